"""The index directory: versioned generations, an atomic CURRENT pointer, and a build lock.

    index/
      CURRENT              name of the live generation (replaced atomically)
      gen-<time>-<pid>/    manifest.json, chunks.jsonl.gz, dense.faiss (chunk vectors and search graph),
                           sentence_{spans,codes,scales}.npy, bm25/
      .lock, .lock.pid     held by the one running build (filelock), and its process id

A build writes a complete new generation, fsyncs it, then swaps CURRENT with os.replace:
a process killed at any moment leaves either the old or the new index loadable.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
from filelock import FileLock, Timeout

from .errors import RagError
from .keyword import KeywordIndex
from .records import Chunk, DocInfo

if TYPE_CHECKING:
    from .settings import Settings

CHUNKS_FILE = "chunks.jsonl.gz"  # chunk texts and ids; generations written before 2026-11-27 have chunks.jsonl
FORMAT_VERSION = 4  # 4: sentence vectors as rotated 4-bit codes; chunk vectors only in the search index
EXACT_MAX = 5_000  # exact search up to this many chunks (it reads every vector: ~3 ms per 10k), HNSW above
# HNSW graph over float16 vectors (half the memory of float32, same recall); parameters chosen with
# bench/bench_retrieval.py (recall@10 against exact search, see docs/performance.md)
HNSW_M, HNSW_EF_CONSTRUCTION = 48, 80
# (up to this many chunks, efSearch): recall@10 0.959 at 100k (fused p50 3.5 ms), 0.968 at 1M (fused p50 13.8 ms)
HNSW_EF_SEARCH = ((200_000, 64), (None, 384))


class IndexError_(RagError, RuntimeError):
    """The index is missing, damaged or built differently; the message says what to run."""


class FormatChanged(IndexError_):
    """The index was written by a version of the product with another file format."""

    def __init__(self, old: int):
        super().__init__(f"index format {old} is not {FORMAT_VERSION}: run `rag index --rebuild`")
        self.old = old


class LockedError(RagError, RuntimeError):
    pass


@dataclass
class Manifest:
    format_version: int
    embed_model: str
    embed_files: dict[str, str]  # pinned file -> sha256 of the embedding model used
    dim: int
    dtype: str
    chunk_tokens: int
    chunk_overlap: int
    faiss_type: str
    n_chunks: int
    created: float
    docs: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> hash, title, date, url, lang, chunk_ids
    chunker: str = ""  # version of the chunking code; a change forces a rebuild
    sentence_vectors: str = "separate"  # how sentence vectors were made (settings.sentence_vectors)
    embed_backend: str = "local"  # where the vectors came from: local, or "openai: <model> at <url>"
    # documents whose sentence vectors are still the quick ones from their chunks' pass (a build publishes
    # them first, then embeds the sentences on their own; a build stopped in between finishes the job next time)
    provisional: list[str] = field(default_factory=list)

    @staticmethod
    def from_json(d: dict[str, Any]) -> Manifest:
        try:
            return Manifest(**d)
        except TypeError as e:
            raise IndexError_(f"index manifest is damaged ({e}): run `rag index --rebuild`") from None


class Index(Protocol):
    """What the question path reads from a live index, whichever store holds it: chunks by row
    (rows are the order of the manifest's documents and their chunk ids), their sentences, documents."""

    manifest: Manifest

    @property
    def chunks(self) -> Sequence[Chunk]: ...

    def row_of(self, chunk_id: str) -> int: ...

    def chunk_sentences(self, row: int) -> tuple[np.ndarray, np.ndarray]: ...

    def chunk_vectors(self, rows: list[int]) -> np.ndarray: ...

    def doc_info(self, doc_id: str) -> DocInfo: ...


def open_index(settings: Settings, expect_model: str | None = None, chunks: bool = True) -> Index:
    """The live index of the store the settings name (`store = "faiss"` or `"milvus"`); `chunks` False
    reads only the Milvus store's catalog (see load_milvus_index)."""
    if settings.store == "milvus":
        from .milvus_store import load_milvus_index

        return load_milvus_index(settings, expect_model, chunks)
    return load_index(settings.index_path, expect_model)


def live_version(settings: Settings) -> str | None:
    """A name for the store's live generation that changes with every build that changes the index (the
    FAISS store's CURRENT pointer; the Milvus store's commit record): how a process notices that another
    one has published a new index. None when there is no index."""
    if settings.store == "milvus":
        from .milvus_store import milvus_live_version

        return milvus_live_version(settings)
    path = current_generation(settings.index_path)
    return path.name if path else None


def index_exists(settings: Settings) -> bool:
    if settings.store == "milvus":
        from .milvus_store import milvus_index_exists

        return milvus_index_exists(settings)
    return current_generation(settings.index_path) is not None


@dataclass
class LoadedIndex:
    path: Path
    manifest: Manifest
    chunks: list[Chunk]
    dense: Any  # faiss.Index: it holds the chunk vectors (float32 up to EXACT_MAX chunks, float16 above)
    keyword: KeywordIndex
    sentences: Sentences

    _rows: dict[str, int] | None = field(default=None, init=False, repr=False)  # chunk id -> row, built on use
    sentence_flat: Any = field(default=None, init=False, repr=False)  # exact sentence search (retrieve.py)

    def row_of(self, chunk_id: str) -> int:
        if self._rows is None:
            self._rows = {c.id: i for i, c in enumerate(self.chunks)}
        return self._rows[chunk_id]

    def chunk_vectors(self, rows: list[int] | np.ndarray) -> np.ndarray:
        """Chunk vectors of `rows` (float32), read back from the search index: no second copy on disk."""
        if self.dense is None or not len(rows):
            return np.zeros((0, self.manifest.dim), np.float32)
        return self.dense.reconstruct_batch(np.asarray(rows, dtype=np.int64))

    def chunk_sentences(self, row: int) -> tuple[np.ndarray, np.ndarray]:
        """Spans (m, 2) relative to the chunk text, and vectors (m, dim) of chunk `row`'s sentences."""
        ranges = self.sentences.ranges
        if row >= len(ranges):
            return self.sentences.spans[0:0, 1:], self.sentences.floats(slice(0, 0))
        a, b = ranges[row]
        return self.sentences.spans[a:b, 1:], self.sentences.floats(slice(a, b))

    def doc_info(self, doc_id: str) -> DocInfo:
        d = self.manifest.docs.get(doc_id, {})
        return DocInfo(doc_id, d.get("title", ""), d.get("date", ""), d.get("url", ""), d.get("lang", ""))


@dataclass
class Sentences:
    """Sentence-level vectors of every chunk: used to pick the best sentences for the prompt and to
    check that cited passages support the answer. Rows of `spans` are (chunk_row, start, end).

    On disk each vector is turned by a fixed random rotation (which spreads the model's few large
    components over all of them) and stored as 4-bit codes, two per byte, with one scale per row: an
    eighth of float32. A query-sentence similarity moves by about 0.003 (standard deviation; see
    docs/performance.md).
    Quantizing a decoded row again gives the same codes, so reused rows do not drift across builds.
    While an index is being built the vectors are float and `scales` is None."""

    spans: np.ndarray  # (m, 3) int32
    vectors: np.ndarray  # (m, dim) float while building; on disk (m, ceil(dim / 2)) uint8 codes
    scales: np.ndarray | None = None  # (m,) float32: a code k in -7..7 means k * scale (rotated)
    rotation: np.ndarray | None = None  # (dim, dim) orthogonal: codes are of vector @ rotation.T
    _ranges: np.ndarray | None = field(default=None, init=False, repr=False)
    _rotation64: np.ndarray | None = field(default=None, init=False, repr=False)

    def floats(self, rows: slice | np.ndarray = slice(None)) -> np.ndarray:
        """The vectors of `rows` as float32."""
        if self.scales is None:
            return np.asarray(self.vectors[rows], dtype=np.float32)
        # in float64, so that a row decodes to the same float32 values whatever the batch around it
        if self._rotation64 is None:
            self._rotation64 = self.rotation.astype(np.float64)
        return (self._rotated(rows).astype(np.float64) @ self._rotation64).astype(np.float32)

    def scores(self, rows: slice | np.ndarray, q: np.ndarray) -> np.ndarray:
        """Inner products of the vectors of `rows` with `q`, straight from the codes: the query is
        rotated once and split into the dimensions of the low and the high 4-bit codes."""
        q = np.asarray(q, dtype=np.float32)
        if self.scales is None:
            return self.floats(rows) @ q
        r = self.rotation @ q
        if len(r) % 2:
            r = np.append(r, np.float32(0))
        even, odd = r[0::2], r[1::2]
        codes = np.asarray(self.vectors[rows])
        sums = (codes & 15).astype(np.float32) @ even + (codes >> 4).astype(np.float32) @ odd
        return (sums - 8 * (even.sum() + odd.sum())) * self.scales[rows]

    def _rotated(self, rows: slice | np.ndarray) -> np.ndarray:
        codes = np.asarray(self.vectors[rows])
        out = np.empty((len(codes), 2 * codes.shape[1]), np.float32)
        out[:, 0::2] = codes & 15
        out[:, 1::2] = codes >> 4
        out -= 8
        return out[:, :self.rotation.shape[0]] * self.scales[rows][:, None]

    def quantized(self, progress: Callable[[int], object] | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(uint8 codes, float32 scales, rotation) as stored. While building, `rotation` is the previous
        index's (so reused rows keep their codes) or None for the fixed one. `progress` gets the number
        of rows encoded (one to two minutes per million on two cores)."""
        if self.scales is not None:
            return np.asarray(self.vectors), np.asarray(self.scales), np.asarray(self.rotation)
        m, dim = self.vectors.shape
        rot = self.rotation if self.rotation is not None and self.rotation.shape == (dim, dim) else random_rotation(dim)
        codes = np.zeros((m, (dim + 1) // 2), np.uint8)
        scales = np.ones(m, np.float32)
        # float64: a row gets the same codes whatever the batch around it (float32 products are not)
        rot_t64 = rot.T.astype(np.float64)
        for a in range(0, m, 50_000):  # blocks: a million chunks' sentences do not fit as float32
            x = np.asarray(self.vectors[a:a + 50_000], dtype=np.float64) @ rot_t64
            s = (np.abs(x).max(axis=1) / 7).astype(np.float32).astype(np.float64) if len(x) else np.zeros(0)
            s[s == 0] = 1.0
            k = (np.clip(np.round(x / s[:, None]), -7, 7) + 8).astype(np.uint8)
            if dim % 2:
                k = np.concatenate([k, np.full((len(k), 1), 8, np.uint8)], axis=1)
            codes[a:a + len(k)] = k[:, 0::2] | (k[:, 1::2] << 4)
            scales[a:a + len(k)] = s
            if progress:
                progress(len(k))
        return codes, scales, rot

    def stored(self) -> Sentences:
        """These sentences as the index stores them (quantized), for stores that keep floats."""
        codes, scales, rot = self.quantized()
        return Sentences(self.spans, codes, scales, rot)

    @property
    def ranges(self) -> np.ndarray:
        """(n_chunks, 2) start/end rows into `spans` for each chunk (spans are sorted by chunk)."""
        if self._ranges is None:
            rows = self.spans[:, 0]
            n = int(rows.max()) + 1 if len(rows) else 0
            starts = np.searchsorted(rows, np.arange(n), side="left")
            ends = np.searchsorted(rows, np.arange(n), side="right")
            self._ranges = np.stack([starts, ends], axis=1)
        return self._ranges


@lru_cache(maxsize=4)
def random_rotation(dim: int, seed: int = 4268) -> np.ndarray:
    """The fixed random orthogonal matrix of the sentence codes. NumPy keeps RandomState's stream
    unchanged across versions, so every build and load makes the same matrix (about 50 ms at 768)."""
    q, r = np.linalg.qr(np.random.RandomState(seed).standard_normal((dim, dim)))
    rot = (q * np.sign(np.diag(r))).astype(np.float32)
    rot.flags.writeable = False
    return rot


def current_generation(root: Path) -> Path | None:
    try:
        name = (root / "CURRENT").read_text().strip()
    except OSError:
        return None
    return root / name if name else None


def uses_graph(n: int) -> bool:
    """Whether `n` chunks get an HNSW graph (minutes to build at scale) rather than exact search."""
    return n > EXACT_MAX


def ef_search(n: int) -> int:
    return next(ef for limit, ef in HNSW_EF_SEARCH if limit is None or n <= limit)


def build_dense(vectors: np.ndarray, progress: Callable[[int], object] | None = None):
    """FAISS inner-product index: exact up to EXACT_MAX chunks, an HNSW graph above (built in
    batches so that `progress` can report the minutes a large collection takes)."""
    import faiss

    dim = vectors.shape[1]
    if not uses_graph(len(vectors)):
        index = faiss.IndexFlatIP(dim)
        index.add(np.ascontiguousarray(vectors, dtype=np.float32))
        return index
    index = faiss.IndexHNSWSQ(dim, faiss.ScalarQuantizer.QT_fp16, HNSW_M, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
    index.hnsw.efSearch = ef_search(len(vectors))  # saved with the index
    index.train(np.ascontiguousarray(vectors[:1000], dtype=np.float32))  # float16 needs no statistics
    for a in range(0, len(vectors), 20_000):
        batch = np.ascontiguousarray(vectors[a:a + 20_000], dtype=np.float32)
        index.add(batch)
        if progress:
            progress(len(batch))
    return index


def write_generation(root: Path, manifest: Manifest, chunks: list[Chunk], vectors: np.ndarray,
                     sentences: Sentences, progress: Callable[[int], object] | None = None,
                     keyword_progress: Callable[[int], object] | None = None,
                     sentence_progress: Callable[[int], object] | None = None, same_chunks: Path | None = None) -> Path:
    """Write a complete generation and make it CURRENT. Returns its directory. `progress` gets the
    number of chunks added to the search graph (large collections only), `keyword_progress` the
    number of chunks tokenized for BM25, `sentence_progress` the number of sentence vectors encoded.
    `same_chunks`: a generation holding exactly these chunks and vectors, whose chunk file, search graph
    and keyword index are linked instead of built again (only the sentence vectors differ)."""
    import faiss

    root.mkdir(parents=True, exist_ok=True)
    gen = root / f"gen-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}-{time.monotonic_ns() % 10**6}"
    tmp = gen.with_name(gen.name + ".tmp")
    tmp.mkdir()
    np.save(tmp / "sentence_spans.npy", np.ascontiguousarray(sentences.spans, dtype=np.int32))
    codes, scales, _ = sentences.quantized(sentence_progress)
    np.save(tmp / "sentence_codes.npy", codes)
    np.save(tmp / "sentence_scales.npy", scales)
    if same_chunks is not None:
        for name in (CHUNKS_FILE, "dense.faiss", "bm25"):
            _link_tree(same_chunks / name, tmp / name)
    else:
        with gzip.open(tmp / CHUNKS_FILE, "wt", encoding="utf-8") as f:  # a third of the plain file's size
            for c in chunks:
                f.write(json.dumps(c.to_json(), ensure_ascii=False) + "\n")
        dense = build_dense(vectors, progress) if len(chunks) else None
        manifest.faiss_type = type(dense).__name__ if dense is not None else "none"
        if dense is not None:
            faiss.write_index(dense, str(tmp / "dense.faiss"))
        KeywordIndex.build([c.text for c in chunks], keyword_progress).save(tmp / "bm25")
    (tmp / "manifest.json").write_text(json.dumps(vars(manifest), ensure_ascii=False, indent=1), encoding="utf-8")
    _fsync_tree(tmp)
    os.rename(tmp, gen)
    pointer = root / "CURRENT.tmp"
    pointer.write_text(gen.name)
    _fsync_file(pointer)
    previous = current_generation(root)
    os.replace(pointer, root / "CURRENT")
    _fsync_dir(root)
    _prune(root, keep={gen.name, previous.name if previous else ""})
    return gen


def _link_tree(src: Path, dst: Path) -> None:
    """Hard-link a file, or every file of a folder, from one generation into another (copied where links fail)."""
    if src.is_dir():
        shutil.copytree(src, dst, copy_function=_link_or_copy)
    elif src.exists():
        _link_or_copy(src, dst)


def _link_or_copy(src: str | Path, dst: str | Path) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    _fsync_file(path)


def _fsync_tree(path: Path) -> None:
    for p in path.rglob("*"):
        if p.is_file():
            _fsync_file(p)
    _fsync_dir(path)


def _prune(root: Path, keep: set[str]) -> None:
    """Delete generations other than `keep` (the live one and the one readers may still hold)."""
    for p in root.glob("gen-*"):
        if p.name not in keep:
            shutil.rmtree(p, ignore_errors=True)


def load_index(root: Path, expect_model: str | None = None) -> LoadedIndex:
    """Load the live generation; raise IndexError_ with the fix when it is missing or damaged."""
    import faiss

    gen = current_generation(root)
    if gen is None or not gen.is_dir():
        raise IndexError_(f"no index in {root}: run `rag index`")
    try:
        data = json.loads((gen / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise IndexError_(f"index manifest in {gen} is missing or damaged: run `rag index --rebuild`") from None
    if not isinstance(data, dict):
        raise IndexError_(f"index manifest in {gen} is damaged: run `rag index --rebuild`")
    m = Manifest.from_json(data)
    if m.format_version != FORMAT_VERSION:
        raise FormatChanged(m.format_version)
    if expect_model and m.embed_model != expect_model:
        raise IndexError_(f"index was built with {m.embed_model}, settings say {expect_model}: run `rag index`")
    try:
        chunks = _read_chunks(gen)
        dense = faiss.read_index(str(gen / "dense.faiss")) if m.n_chunks else None
        keyword = KeywordIndex.load(gen / "bm25", m.n_chunks)
        sentences = Sentences(_mapped(gen / "sentence_spans.npy"), _mapped(gen / "sentence_codes.npy"),
                              _mapped(gen / "sentence_scales.npy"), random_rotation(m.dim))
    except (OSError, EOFError, zlib.error, ValueError, KeyError, RuntimeError) as e:
        raise IndexError_(f"index files in {gen} are damaged ({type(e).__name__}): run `rag index --rebuild`") from None
    if len(chunks) != m.n_chunks or (dense is not None and (dense.ntotal != m.n_chunks or dense.d != m.dim)):
        raise IndexError_(f"index in {gen} is inconsistent with its manifest: run `rag index --rebuild`")
    if len(sentences.spans) != len(sentences.vectors) or len(sentences.vectors) != len(sentences.scales) or (
            sentences.rotation.shape != (m.dim, m.dim)) or (len(sentences.spans) and sentences.ranges.shape[0] > m.n_chunks):
        raise IndexError_(f"sentence index in {gen} is inconsistent: run `rag index --rebuild`")
    return LoadedIndex(gen, m, chunks, dense, keyword, sentences)


def _read_chunks(gen: Path) -> list[Chunk]:
    """The chunks of a generation: gzip-compressed JSON lines, or plain ones in a generation written before."""
    path = gen / CHUNKS_FILE
    if not path.exists() and (gen / "chunks.jsonl").exists():
        path = gen / "chunks.jsonl"
    with (gzip.open(path, "rt", encoding="utf-8") if path.suffix == ".gz" else open(path, encoding="utf-8")) as f:
        return [Chunk.from_json(json.loads(line)) for line in f]


def _mapped(path: Path) -> np.ndarray:
    """A read-only memory map seen as a plain array: pages are read on use, and indexing skips
    np.memmap's per-call Python overhead (measurable in the per-query sentence re-score)."""
    return np.load(path, mmap_mode="r").view(np.ndarray)


@contextmanager
def build_lock(root: Path) -> Iterator[None]:
    """Hold an exclusive lock on the index directory; a second build fails at once. The lock is
    released when the holder exits, also when it is killed. `.lock.pid` names the holder."""
    root.mkdir(parents=True, exist_ok=True)
    lock = FileLock(root / ".lock", timeout=0)
    pid_file = root / ".lock.pid"
    try:
        lock.acquire()
    except Timeout:
        try:
            holder = pid_file.read_text().strip() or "?"
        except OSError:
            holder = "?"
        raise LockedError(f"another `rag index` (pid {holder}) is building {root}; wait for it to finish") from None
    try:
        pid_file.write_text(str(os.getpid()))
        yield
    finally:
        lock.release()
