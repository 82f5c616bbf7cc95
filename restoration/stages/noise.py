"""How noisy a picture is, and the denoising strength that suits it (``denoise="auto"``).

The noise is estimated on the lightness, in 16 px blocks, at two scales: the energy of the response to a
3x3 kernel that cancels every smooth gradient (Immerkær's), on the picture and on the picture averaged
over 2x2 pixels. White noise (a sensor's, a scan's grain) loses three quarters of that energy when
averaged; texture and edges, which span more than a pixel, keep most of it. So the energy a block
loses is noise, and the median over the blocks says how much noise the picture has, while grass,
gravel or a printed pattern count for little. On scikit-image's photos with Gaussian noise of σ per
channel added, the figure is about 0.6 σ (lightness averages the three channels' noise); the clean
photos give 0 to 0.4, textured ones included. ``strength`` turns it into a denoising strength for the
denoiser chosen, 0 for a clean picture (``benchmarks/denoise_auto.py`` measures both).
"""

from __future__ import annotations

import numpy as np
import torch

BLOCK = 16
CLEAN = 3.0  # below this estimate (8-bit levels of lightness) a picture is left as it is
NLM_PER_LEVEL = 1.2  # non-local means' h per level of the estimate (measured best: 1.0 to 1.4)
SIGMA_PER_LEVEL = 1.7  # the noise's σ per channel per level of the estimate (a noise-conditioned network's)
_KERNEL = torch.tensor([[1.0, -2.0, 1.0], [-2.0, 4.0, -2.0], [1.0, -2.0, 1.0]])[None, None]
_ENERGY = 36.0  # the kernel's response energy to white noise of σ 1 (the sum of its squares)


def _energy(luma: torch.Tensor, block: int) -> torch.Tensor:
    """The kernel's mean response energy over ``block`` px blocks of ``luma`` (1, 1, H, W)."""
    response = torch.nn.functional.conv2d(torch.nn.functional.pad(luma, (1, 1, 1, 1), mode="reflect"), _KERNEL)
    return torch.nn.functional.avg_pool2d(response * response, block)


def estimate_noise(x: torch.Tensor) -> float:
    """The noise of the first picture of ``x`` (N, 3, H, W) in [0, 1], in 8-bit levels of lightness
    (see the module); 0 for a picture smaller than two blocks a side."""
    rgb = x[:1].float().cpu()
    luma = (0.299 * rgb[:, 0] + 0.587 * rgb[:, 1] + 0.114 * rgb[:, 2])[:, None] * 255
    h, w = luma.shape[-2] // BLOCK * BLOCK, luma.shape[-1] // BLOCK * BLOCK
    if min(h, w) < 2 * BLOCK:
        return 0.0
    luma = luma[..., :h, :w]
    fine, coarse = _energy(luma, BLOCK), _energy(torch.nn.functional.avg_pool2d(luma, 2), BLOCK // 2)
    lost = (fine - coarse).clamp(min=0) * 4 / 3  # white noise keeps a quarter of its energy when averaged
    return float(np.sqrt(float(lost.flatten().median()) / _ENERGY))


def strength(noise: float, denoiser: str, noise_plane: bool = False) -> float:
    """The strength ``denoise`` takes for a picture of ``noise`` (``estimate_noise``) with ``denoiser``:
    0 below ``CLEAN``; non-local means' h; a noise-conditioned network's σ (``noise_plane``); a blind
    network's whole output (15)."""
    if noise < CLEAN:
        return 0.0
    if denoiser == "nlm":
        value = NLM_PER_LEVEL * noise
    elif noise_plane:
        value = SIGMA_PER_LEVEL * noise
    else:
        value = 15.0
    return float(min(30.0, round(value)))
