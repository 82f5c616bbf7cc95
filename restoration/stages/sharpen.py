"""Detail enhancement: an unsharp mask on the luminance only (no colour fringes)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

_LUMA = (0.299, 0.587, 0.114)


def _gaussian(sigma: float, device: torch.device) -> torch.Tensor:
    r = max(1, math.ceil(3 * sigma))
    t = torch.arange(-r, r + 1, device=device, dtype=torch.float32)
    k = torch.exp(-(t**2) / (2 * sigma**2))
    return k / k.sum()


def blur(y: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of (N, 1, H, W) with reflected borders."""
    k = _gaussian(sigma, y.device)
    r = k.numel() // 2
    if y.shape[-1] <= r or y.shape[-2] <= r:
        return y
    y = F.pad(y, (r, r, 0, 0), mode="reflect")
    y = F.conv2d(y, k.view(1, 1, 1, -1))
    y = F.pad(y, (0, 0, r, r), mode="reflect")
    return F.conv2d(y, k.view(1, 1, -1, 1))


def sharpen(x: torch.Tensor, amount: float, sigma: float = 1.0) -> torch.Tensor:
    """``x + amount * (Y - blur(Y))`` on every channel, where Y is the luma of ``x``."""
    if amount <= 0:
        return x
    w = torch.tensor(_LUMA, device=x.device, dtype=x.dtype).view(1, 3, 1, 1)
    y = (x * w).sum(dim=1, keepdim=True)
    detail = y - blur(y, sigma)
    return (x + amount * detail).clamp_(0, 1)
