"""Colorization with DDColor: new chroma, the input's own lightness.

The network sees a ``input_size`` square gray version of the image and predicts Lab chroma (a, b);
the chroma is resized to the full image and joined to the full-resolution lightness of the input, with
chroma reduced (never lightness changed) where a colour would fall outside sRGB.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from ..color import lab_to_rgb, lab_to_rgb_in_gamut, rgb_to_lab

# Monochrome test: the spread of a and b (Lab units) stays under this in a gray or toned photo.
_CHROMA_STD_LIMIT = 3.0


def is_monochrome(x: torch.Tensor) -> bool:
    """True when ``x`` (1, 3, H, W) is gray or a single tone (sepia, cyanotype): nothing to keep.

    Decided on a copy at most 256 px on its long side. In a toned photo the chroma is a function of
    the lightness, so a and b are each regressed on L; when what L does not explain has a standard
    deviation under 3 Lab units in both, the picture holds no colour of its own (colour photos are
    typically above 10).
    """
    h, w = x.shape[-2:]
    s = min(1.0, 256 / max(h, w))
    small = F.interpolate(x.float(), scale_factor=s, mode="area") if s < 1 else x.float()
    lab = rgb_to_lab(small[:1].clamp(0, 1)).flatten(2)[0].double()  # (3, P)
    L = lab[0]
    design = torch.stack([L, torch.ones_like(L)], dim=1)  # (P, 2)
    coef = torch.linalg.lstsq(design, lab[1:].T).solution  # (2, 2)
    residual = lab[1:].T - design @ coef
    return bool((residual.std(dim=0) < _CHROMA_STD_LIMIT).all())


def colorize(
    x: torch.Tensor, model: Callable[[torch.Tensor], torch.Tensor], input_size: int = 512
) -> torch.Tensor:
    """``x`` (N, 3, H, W) in [0, 1] with chroma from ``model``; Lab L of the result equals the input's."""
    h, w = x.shape[-2:]
    lab = rgb_to_lab(x.float().clamp(0, 1))
    L = lab[:, :1]
    small = F.interpolate(x.float(), size=(input_size, input_size), mode="bilinear", antialias=True)
    small_l = rgb_to_lab(small.clamp(0, 1))[:, :1]
    zeros = torch.zeros_like(small_l)
    gray = lab_to_rgb(torch.cat([small_l, zeros, zeros], dim=1))
    ab = model(gray).float()
    if ab.shape[1] != 2:
        raise ValueError(f"colorization model returned {ab.shape[1]} channels; 2 (a, b) expected")
    ab = F.interpolate(ab, size=(h, w), mode="bilinear", align_corners=False)
    return lab_to_rgb_in_gamut(L, ab)
