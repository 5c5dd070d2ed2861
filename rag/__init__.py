"""Bilingual retrieval-augmented Q&A with verified citations.

>>> from rag import load_settings, Pipeline, build_index   # doctest: +SKIP
>>> s = load_settings()
>>> pipe = Pipeline.load(s)
>>> pipe.ask("上海有多少家重点人工智能企业？").text
'上海有1,149家重点人工智能企业[2]。'
"""

from .answer import Pipeline
from .indexer import build_index
from .records import Answer, Chunk, Citation, Document, Hit
from .settings import Settings, load_settings
from .store import load_index

__all__ = ["Answer", "Chunk", "Citation", "Document", "Hit", "Pipeline", "Settings", "build_index", "load_index",
           "load_settings"]
