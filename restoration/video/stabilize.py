"""Temporal stabilisation of restored frames, and the flicker measure used to check it."""

from __future__ import annotations

import numpy as np
import torch

from ..color import lab_to_rgb, rgb_to_lab
from .frames import Frame, Pass


class TemporalStabilizer(Pass):
    """Smooths what should not change between neighbouring frames, per pixel and motion-gated; a pass
    after the stages, on each frame's ``restored`` picture.

    Works in Lab. Where the lightness of a pixel barely changes from the previous output frame (a
    static area), its chroma (``chroma`` > 0) and lightness (``luma`` > 0) are pulled toward the
    previous output; where it changes (motion), the new frame wins. A scene cut (``Frame.cut``, found
    on the input by ``cuts``) starts again from the new frame.
    """

    def __init__(self, chroma: float = 0.8, luma: float = 0.0, low: float = 2.0, high: float = 8.0) -> None:
        self.chroma, self.luma, self.low, self.high = chroma, luma, low, high
        self.prev: torch.Tensor | None = None  # (1, 3, H, W) Lab

    def push(self, frame: Frame) -> list[Frame]:
        frame.restored = self.smooth(frame.restored[None], cut=frame.cut)[0]
        return [frame]

    def smooth(self, rgb: torch.Tensor, cut: bool = False) -> torch.Tensor:
        """One restored picture (1, 3, H, W) float, smoothed toward the previous output."""
        lab = rgb_to_lab(rgb.float())
        if cut or self.prev is None or self.prev.shape != lab.shape:
            self.prev = lab
            return rgb.float()
        diff = (lab[:, :1] - self.prev[:, :1]).abs()
        diff = torch.nn.functional.avg_pool2d(diff, 5, stride=1, padding=2, count_include_pad=False)
        motion = ((diff - self.low) / (self.high - self.low)).clamp_(0, 1)
        new = lab.clone()
        if self.chroma > 0:
            keep = (1 - motion) * self.chroma
            new[:, 1:] = lab[:, 1:] + (self.prev[:, 1:] - lab[:, 1:]) * keep
        if self.luma > 0:
            keep = (1 - motion) * self.luma
            new[:, :1] = lab[:, :1] + (self.prev[:, :1] - lab[:, :1]) * keep
        self.prev = new
        return lab_to_rgb(new).to(rgb.dtype)


def chroma_flicker(frames: list[np.ndarray], block: int = 4) -> float:
    """Mean absolute frame-to-frame change of Lab a/b, in Lab units, averaged over frame pairs.

    ``frames``: RGB uint8 or float arrays. The a/b planes are averaged over ``block``-pixel squares
    first, so the 8-bit rounding of each frame (about 0.4 units per pixel) does not hide the flicker
    a viewer sees.
    """
    if len(frames) < 2:
        return 0.0
    labs = []
    for f in frames:
        t = torch.from_numpy(np.ascontiguousarray(f)).float()
        if f.dtype == np.uint8:
            t = t / 255
        ab = rgb_to_lab(t.permute(2, 0, 1)[None])[:, 1:]
        if block > 1 and min(ab.shape[-2:]) >= block:
            ab = torch.nn.functional.avg_pool2d(ab, block)
        labs.append(ab)
    return float(np.mean([(b - a).abs().mean().item() for a, b in zip(labs, labs[1:])]))
