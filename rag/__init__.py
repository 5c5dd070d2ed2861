"""Bilingual retrieval-augmented Q&A with verified citations.

>>> from rag import load_settings, open_pipeline   # doctest: +SKIP
>>> pipe = open_pipeline(load_settings())        # builds or updates the index first
>>> pipe.ask("上海有多少家重点人工智能企业？").text
'上海有1,149家重点人工智能企业[2]。'
"""

from .answer import Pipeline
from .errors import RagError
from .indexer import build_index
from .pipeline import open_pipeline
from .records import Answer, Chunk, Citation, Document, Hit
from .settings import Settings, load_settings
from .store import load_index

__all__ = ["Answer", "Chunk", "Citation", "Document", "Hit", "Pipeline", "RagError", "Settings", "build_index",
           "load_index", "load_settings", "open_pipeline"]
