"""Open a ready question-answering pipeline: the one place that wires the embedder, the index and
the generator together. The CLI (`rag ask`, `rag chat`, `rag eval`), the chat UI, the benchmark
suites and the benchmarks all start here, so they all answer from the same path.

>>> pipe = open_pipeline(load_settings())                       # doctest: +SKIP
>>> pipe.ask("上海有多少家重点人工智能企业？").text               # doctest: +SKIP
'上海有1,149家重点人工智能企业[2]。'
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable

from .answer import Pipeline
from .embed import Embedder, load_embedder
from .errors import RagError
from .generate import AnyGenerator, load_generator
from .indexer import IndexSummary, build_index
from .settings import Settings
from .store import index_exists, open_index


def open_pipeline(settings: Settings, *, ensure_index: bool = True, with_generator: bool = True,
                  embedder: Embedder | None = None, generator: AnyGenerator | None = None,
                  quiet: bool = True, warn: Callable[[str], None] | None = None,
                  refine_in_background: bool = False) -> Pipeline:
    """Load the models the settings name (or use the ones given) and the live index.

    With `ensure_index` the index is first brought up to date with the corpus (incremental: a
    no-op costs reading the corpus, nothing is embedded); a missing corpus folder with an existing
    index just uses the index. `quiet` hides the embedding progress bar. The build's summary is
    kept as `pipe.build_summary`. With `refine_in_background` (the chat server) a large build returns
    once its index is usable, and its sentence vectors are refined on a background thread, which
    loads the refined index into the pipeline when done (`pipe.refining` is that thread)."""
    warn = warn or (lambda msg: print(msg, file=sys.stderr))
    if generator is None and with_generator:  # first: a misconfigured backend fails before minutes of indexing
        generator = load_generator(settings)
    embedder = embedder or load_embedder(settings)
    summary: IndexSummary | None = None
    if ensure_index:
        if settings.corpus_path.is_dir() or not index_exists(settings):
            summary = build_index(settings, embedder, quiet=quiet, warn=warn, refine=not refine_in_background)
        else:
            warn(f"corpus folder {settings.corpus_path} not found: answering from the index as it is")
    pipe = Pipeline(settings, embedder, generator, open_index(settings, expect_model=embedder.model_id))
    pipe.build_summary = summary
    if summary is not None and summary.provisional:
        pipe.refining = threading.Thread(target=_refine, args=(pipe, warn), name="refine-index", daemon=True)
        pipe.refining.start()
    return pipe


def _refine(pipe: Pipeline, warn: Callable[[str], None]) -> None:
    """Embed the sentences of a usable index's provisional documents on their own and load the result."""
    t0 = time.perf_counter()
    warn(f"index usable; refining the sentence vectors of {pipe.build_summary.provisional} documents in the "
         "background (answers may be slower meanwhile)")
    try:
        build_index(pipe.settings, pipe.embedder, quiet=True, warn=warn)
        pipe.reload_index()
    except RagError as e:  # another build holds the lock (it refines too) or the corpus is gone
        warn(f"sentence vectors not refined: {e}")
        return
    warn(f"sentence vectors refined in {time.perf_counter() - t0:.0f} s")
