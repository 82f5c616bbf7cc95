"""Denoise: non-local means, strength 0..30 (the filter's ``h``, in 8-bit Lab units), or a network.

Two implementations of the same filter. On a CUDA device, ``nlm_torch`` runs on the GPU, on the batch
as it is, so frames never go back to the host; elsewhere OpenCV's ``fastNlMeansDenoisingColored``
(multi-threaded C++) is faster. Both use a 7x7 patch, a 21x21 search window, Lab space, and separate
weights for lightness and colour, as OpenCV does.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..color import lab_to_rgb, rgb_to_lab
from ..tiling import Progress, run_tiled

PATCH = 7
SEARCH = 21
_CHUNK_BYTES = 256 << 20  # the search offsets are batched so that one batch of patches stays under this


def denoise(x: torch.Tensor, strength: float, method: str = "auto") -> torch.Tensor:
    """Non-local means on each image of ``x`` (N, 3, H, W) in [0, 1]; returns the same shape/device.

    ``method``: "torch" (GPU-friendly, any device), "opencv" (CPU), or "auto" (torch on CUDA).
    """
    if strength <= 0:
        return x
    if method == "auto":
        method = "torch" if x.device.type == "cuda" else "opencv"
    if method == "torch":
        return nlm_torch(x, strength)
    return _nlm_opencv(x, strength)


FULL_AT = 15.0  # a blind denoiser's whole output from this strength on


def denoise_with(model, x: torch.Tensor, strength: float, *, tile: int, pad: int, batch: int = 1,
                 progress: Progress | None = None) -> torch.Tensor:
    """``x`` (N, 3, H, W) in [0, 1] through a 1x restoration network (``models.LoadedModel``), tiled.

    A noise-conditioned network (DRUNet) is told the noise level: ``strength`` in 8-bit units, so 15
    means sigma 15/255. A blind network (SCUNet, any 1x model) has no such input: its output is blended
    with the input, a share of ``strength / 15`` (the whole output from 15 on).
    """
    if strength <= 0:
        return x
    if model.traits.noise_plane:
        level = strength / 255
        return run_tiled(lambda t: model(t, noise_level=level), x, 1, tile, pad, batch=batch, progress=progress)
    y = run_tiled(model, x, 1, tile, pad, batch=batch, progress=progress)
    return x + (y - x) * min(1.0, strength / FULL_AT)


def _nlm_opencv(x: torch.Tensor, strength: float) -> torch.Tensor:
    """The filter works on 8-bit values; its correction is added to the original float pixels, so a
    16-bit source keeps its finer gradations wherever the filter changes nothing."""
    import cv2

    out = []
    for img in x:
        f = img.permute(1, 2, 0).float().cpu().numpy()
        q = np.clip(f * 255.0 + 0.5, 0, 255).astype(np.uint8)
        bgr = np.ascontiguousarray(q[..., ::-1])
        den = cv2.fastNlMeansDenoisingColored(bgr, None, float(strength), float(strength), PATCH, SEARCH)
        delta = (den[..., ::-1].astype(np.float32) - q.astype(np.float32)) / 255.0
        res = np.clip(f + delta, 0.0, 1.0)
        out.append(torch.from_numpy(np.ascontiguousarray(res)).permute(2, 0, 1))
    return torch.stack(out).to(x.device)


@torch.no_grad()
def nlm_torch(x: torch.Tensor, strength: float, patch: int = PATCH, search: int = SEARCH) -> torch.Tensor:
    """Non-local means in PyTorch on (N, 3, H, W) in [0, 1].

    In Lab scaled to 8-bit units (L x 2.55), every pixel becomes the weighted mean of the pixels in its
    ``search`` window, weighted by exp(-d / h^2), where d is the mean squared difference of the two
    ``patch`` x ``patch`` neighbourhoods: lightness and colour each get their own weights (from L and
    from a, b). The search offsets are batched (up to three rows of the window, and at most
    ``_CHUNK_BYTES`` of shifted copies at a time), so a 720p frame costs a few dozen rounds of large
    kernels rather than 441 rounds of small ones, and a 12 MP photo stays within a few hundred MB.
    """
    n, _, h, w = x.shape
    r, p = search // 2, patch // 2
    lab = rgb_to_lab(x.float())
    lab = lab * torch.tensor([2.55, 1.0, 1.0], device=x.device).view(1, 3, 1, 1)
    pad = F.pad(lab, (r + p, r + p, r + p, r + p), mode="reflect")
    centre = pad[:, :, r: r + h + 2 * p, r: r + w + 2 * p]  # the image plus a patch border
    inv_h2 = 1.0 / float(strength) ** 2
    num = torch.zeros_like(lab)
    den_l = torch.zeros(n, 1, h, w, device=x.device)
    den_c = torch.zeros_like(den_l)
    offsets = [(dy, dx) for dy in range(2 * r + 1) for dx in range(2 * r + 1)]
    per_offset = centre.numel() * 4
    chunk = max(1, min(3 * (2 * r + 1), _CHUNK_BYTES // per_offset))
    for i in range(0, len(offsets), chunk):
        part = offsets[i: i + chunk]
        k = len(part)
        shifted = torch.stack([pad[:, :, dy: dy + h + 2 * p, dx: dx + w + 2 * p] for dy, dx in part], dim=1)
        diff2 = (shifted - centre[:, None]).square_().flatten(0, 1)  # (N*k, 3, H+2p, W+2p)
        dl = F.avg_pool2d(diff2[:, :1], patch, stride=1).view(n, k, 1, h, w)
        dc = F.avg_pool2d(diff2[:, 1:].mean(1, keepdim=True), patch, stride=1).view(n, k, 1, h, w)
        del diff2
        wl = dl.mul_(-inv_h2).exp_()
        wc = dc.mul_(-inv_h2).exp_()
        inner = shifted[:, :, :, p: p + h, p: p + w]  # (N, k, 3, H, W)
        num[:, :1] += (wl * inner[:, :, :1]).sum(1)
        num[:, 1:] += (wc * inner[:, :, 1:]).sum(1)
        den_l += wl.sum(1)
        den_c += wc.sum(1)
    out = torch.cat([num[:, :1] / den_l / 2.55, num[:, 1:] / den_c], dim=1)
    return lab_to_rgb(out).to(x.dtype)
