"""A typed Python client for a running restoration app or Space (needs only ``gradio_client``).

>>> from client import RestorationClient
>>> c = RestorationClient("http://127.0.0.1:7860")          # or a Space id: "user/space"
>>> r = c.restore_image("old.jpg", preset="old-photo")
>>> r.path, r.metrics["psnr"]
"""

from __future__ import annotations

from .api import BatchResult, ClientError, Comparison, ImageResult, RestorationClient, VideoPreview, VideoResult
from .endpoints import LIST_MODELS, RESTORE_BATCH, RESTORE_IMAGE, RESTORE_VIDEO

__all__ = [
    "LIST_MODELS",
    "RESTORE_BATCH",
    "RESTORE_IMAGE",
    "RESTORE_VIDEO",
    "BatchResult",
    "ClientError",
    "Comparison",
    "ImageResult",
    "RestorationClient",
    "VideoPreview",
    "VideoResult",
]
