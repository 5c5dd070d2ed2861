"""Text from images: scanned PDF pages and .png/.jpg files, read by RapidOCR (PP-OCRv4 Chinese and
English models that ship inside the `rapidocr-onnxruntime` wheel: nothing is downloaded at run
time). Optional: `pip install "rag-bilingual[ocr]"`; without it such files are skipped with that hint.
"""

from __future__ import annotations

import io
import threading

INSTALL_HINT = "install the ocr extra: pip install 'rag-bilingual[ocr]'"

_engine = None
_lock = threading.Lock()


def available() -> bool:
    try:
        import rapidocr_onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


def _get_engine():
    global _engine
    with _lock:
        if _engine is None:
            from rapidocr_onnxruntime import RapidOCR

            _engine = RapidOCR()
        return _engine


def read_image(data: bytes) -> str:
    """The text lines of an image, top to bottom (empty when it holds no text)."""
    import numpy as np
    from PIL import Image

    img = Image.open(io.BytesIO(data)).convert("RGB")
    result, _ = _get_engine()(np.asarray(img))
    if not result:
        return ""
    lines = sorted(result, key=lambda r: (round(min(p[1] for p in r[0]) / 10), min(p[0] for p in r[0])))
    return "\n".join(str(r[1]).strip() for r in lines if str(r[1]).strip())
