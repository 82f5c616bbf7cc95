"""Denoise: OpenCV's fast non-local means, strength 0..30 (the filter's ``h``)."""

from __future__ import annotations

import numpy as np
import torch


def denoise(x: torch.Tensor, strength: float) -> torch.Tensor:
    """Non-local means on each image of ``x`` (N, 3, H, W) in [0, 1]; returns the same shape/device.

    The filter works on 8-bit values; its correction is added to the original float pixels, so a
    16-bit source keeps its finer gradations wherever the filter changes nothing.
    """
    if strength <= 0:
        return x
    import cv2

    out = []
    for img in x:
        f = img.permute(1, 2, 0).float().cpu().numpy()
        q = np.clip(f * 255.0 + 0.5, 0, 255).astype(np.uint8)
        bgr = np.ascontiguousarray(q[..., ::-1])
        den = cv2.fastNlMeansDenoisingColored(bgr, None, float(strength), float(strength), 7, 21)
        delta = (den[..., ::-1].astype(np.float32) - q.astype(np.float32)) / 255.0
        res = np.clip(f + delta, 0.0, 1.0)
        out.append(torch.from_numpy(np.ascontiguousarray(res)).permute(2, 0, 1))
    return torch.stack(out).to(x.device)
