"""Face parsing masks: a SegFormer (``transformers``) that labels each pixel of an aligned face.

Only skin, eyes, brows, glasses, nose, mouth and lips are pasted, so hair, ears, neck, clothes and
background keep the super-resolved picture's pixels. The mask is softened at its edge and multiplied
by the feathered square, so no seam shows. Loaded models are kept per (folder, device).
"""

from __future__ import annotations

import threading
from pathlib import Path

import torch
import torch.nn.functional as F

from ..errors import ModelLoadError
from .geometry import box_mask

# CelebAMask-HQ labels: 1 skin, 2 nose, 3 eyeglasses, 4/5 eyes, 6/7 brows, 10 mouth, 11/12 lips.
FACE_LABELS = (1, 2, 3, 4, 5, 6, 7, 10, 11, 12)
_MEAN = (0.485, 0.456, 0.406)
_STD = (0.229, 0.224, 0.225)
_lock = threading.Lock()
_cache: dict[tuple[str, str, int, int], torch.nn.Module] = {}


def load_parser(weights: Path, device: torch.device) -> torch.nn.Module:
    """The SegFormer in ``weights``' folder (``model.safetensors`` + ``config.json``) on ``device``.
    Raises ``ModelLoadError`` when the folder does not hold one."""
    st = weights.stat()
    key = (str(weights.parent), str(device), st.st_size, st.st_mtime_ns)  # a replaced file is read again
    with _lock:
        if key not in _cache:
            from transformers import SegformerForSemanticSegmentation
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()

            try:
                net = SegformerForSemanticSegmentation.from_pretrained(str(weights.parent), use_safetensors=True)
            except Exception as e:  # noqa: BLE001 - transformers raises OSError, ValueError, KeyError...
                raise ModelLoadError(
                    f"{weights.parent} does not hold a face-parsing SegFormer ({type(e).__name__}: "
                    f"{str(e).splitlines()[0] if str(e) else ''}); replace model.safetensors and config.json "
                    "or delete them so they are downloaded again") from e
            _cache[key] = net.to(device).eval()
        return _cache[key]


def parse_masks(net: torch.nn.Module, faces: torch.Tensor, soften: int = 9) -> torch.Tensor:
    """Soft masks (N, 1, 512, 512) of the face regions of ``faces`` (N, 3, 512, 512) in [0, 1]."""
    mean = torch.tensor(_MEAN, device=faces.device).view(1, 3, 1, 1)
    std = torch.tensor(_STD, device=faces.device).view(1, 3, 1, 1)
    with torch.inference_mode():
        logits = net(pixel_values=((faces - mean) / std).to(next(net.parameters()).dtype)).logits
        logits = F.interpolate(logits.float(), size=faces.shape[-2:], mode="bilinear", align_corners=False)
        labels = logits.argmax(1, keepdim=True)
        hard = torch.zeros_like(labels, dtype=torch.float32)
        for label in FACE_LABELS:
            hard += (labels == label).float()
        soft = F.avg_pool2d(hard, 2 * soften + 1, stride=1, padding=soften, count_include_pad=False)
        soft = F.avg_pool2d(soft, 2 * soften + 1, stride=1, padding=soften, count_include_pad=False)
    return soft * box_mask(faces.device)
