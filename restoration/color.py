"""Colour-space conversions on tensors ``(N, 3, H, W)`` float in [0, 1] (sRGB, D65), and the one home of
the conversions between pictures in host memory (H, W, C) and batches of tensors (N, C, H, W).

Lab uses the CIE definitions with the sRGB transfer curve; L is 0..100, a and b roughly -128..127.
These run on whatever device the tensor is on, so colour work never leaves the GPU.
"""

from __future__ import annotations

import numpy as np
import torch

_RGB2XYZ = torch.tensor(
    [[0.412453, 0.357580, 0.180423], [0.212671, 0.715160, 0.072169], [0.019334, 0.119193, 0.950227]]
)
_XYZ2RGB = torch.linalg.inv(_RGB2XYZ)
_WHITE = torch.tensor([0.950456, 1.0, 1.088754])
_EPS = 216 / 24389  # (6/29)^3
_KAPPA = 24389 / 27


def srgb_to_linear(x: torch.Tensor) -> torch.Tensor:
    return torch.where(x <= 0.04045, x / 12.92, ((x.clamp(min=0) + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(x: torch.Tensor) -> torch.Tensor:
    """Sign-preserving, so out-of-gamut (negative) values stay visible to gamut checks."""
    a = x.abs()
    return torch.sign(x) * torch.where(a <= 0.0031308, a * 12.92, 1.055 * a ** (1 / 2.4) - 0.055)


def _apply(m: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return torch.einsum("ij,njhw->nihw", m.to(x), x)


def rgb_to_lab(rgb: torch.Tensor) -> torch.Tensor:
    xyz = _apply(_RGB2XYZ, srgb_to_linear(rgb)) / _WHITE.to(rgb).view(1, 3, 1, 1)
    f = torch.where(xyz > _EPS, xyz.clamp(min=_EPS) ** (1 / 3), (_KAPPA * xyz + 16) / 116)
    fx, fy, fz = f[:, 0:1], f[:, 1:2], f[:, 2:3]
    return torch.cat([116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)], dim=1)


def lab_to_rgb(lab: torch.Tensor, clip: bool = True) -> torch.Tensor:
    L, a, b = lab[:, 0:1], lab[:, 1:2], lab[:, 2:3]
    fy = (L + 16) / 116
    fx = fy + a / 500
    fz = fy - b / 200
    f = torch.cat([fx, fy, fz], dim=1)
    xyz = torch.where(f**3 > _EPS, f**3, (116 * f - 16) / _KAPPA)
    xyz = xyz * _WHITE.to(lab).view(1, 3, 1, 1)
    rgb = linear_to_srgb(_apply(_XYZ2RGB, xyz))
    return rgb.clamp(0, 1) if clip else rgb


def lab_to_rgb_in_gamut(L: torch.Tensor, ab: torch.Tensor, steps: int = 8) -> torch.Tensor:
    """sRGB for lightness ``L`` and chroma ``ab``, reducing chroma (never L) to stay in gamut.

    Plain clipping of an out-of-gamut colour changes its lightness; here each pixel's chroma is scaled
    by the largest factor in [0, 1] (found by bisection) whose colour fits in [0, 1] RGB.
    """
    lo = torch.zeros_like(L)
    hi = torch.ones_like(L)
    tol = 1e-4
    fits = _fits(L, ab, tol)
    for _ in range(steps):
        mid = (lo + hi) / 2
        ok = _fits(L, ab * mid, tol)
        lo = torch.where(ok, mid, lo)
        hi = torch.where(ok, hi, mid)
    s = torch.where(fits, torch.ones_like(lo), lo)
    return lab_to_rgb(torch.cat([L, ab * s], dim=1), clip=True)


def _fits(L: torch.Tensor, ab: torch.Tensor, tol: float) -> torch.Tensor:
    rgb = lab_to_rgb(torch.cat([L, ab], dim=1), clip=False)
    return ((rgb >= -tol) & (rgb <= 1 + tol)).all(dim=1, keepdim=True)


def to_tensor(a) -> torch.Tensor:
    """One picture (H, W, C) or plane (H, W), a numpy array, as a batch of one (1, C, H, W), same dtype."""
    import numpy as np

    t = torch.from_numpy(np.ascontiguousarray(a))
    return t.permute(2, 0, 1)[None] if t.ndim == 3 else t[None, None]


def to_array(t: torch.Tensor):
    """The first picture of ``t`` (N, C, H, W) as a float32 numpy array (H, W, C) in host memory."""
    return t[0].permute(1, 2, 0).float().cpu().numpy()


def to_uint16(x: torch.Tensor):
    """``x`` (N, 3, H, W) in [0, 1] as 16-bit pixels (N, H, W, 3), rounded, in host memory."""
    y = x.clamp(0, 1).mul(65535).add_(0.5).floor_().to(torch.int32)
    return y.permute(0, 2, 3, 1).contiguous().cpu().numpy().astype(np.uint16)


def to_uint8(x: torch.Tensor):
    """``x`` (N, 3, H, W) in [0, 1] as 8-bit pixels (N, H, W, 3), rounded, in host memory (a numpy array)."""
    return x.clamp(0, 1).mul(255).add_(0.5).to(torch.uint8).permute(0, 2, 3, 1).contiguous().cpu().numpy()
