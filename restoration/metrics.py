"""Quality measures of a result: PSNR, SSIM, MSE, sharpness, colourfulness.

PSNR, MSE and SSIM come from scikit-image; they compare the result with a reference when one is given,
otherwise with the input resized (bicubic) to the result's size, which tells how far the restoration
moved from a plain resize. Sharpness is the variance of the Laplacian of the 8-bit luma, of the result
and of the input resized to the result's size (the measure falls as a picture grows); colourfulness
is Hasler and Suesstrunk's measure (0 for gray, above ~50 for vivid pictures).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

_SSIM_MAX_SIDE = 2048  # SSIM on larger images is computed on a downscaled copy of both


def _luma(a: np.ndarray) -> np.ndarray:
    return a[..., 0] * 0.299 + a[..., 1] * 0.587 + a[..., 2] * 0.114


def sharpness(a: np.ndarray) -> float:
    import cv2

    y = np.clip(_luma(a) * 255.0, 0, 255).astype(np.float32)
    return float(cv2.Laplacian(y, cv2.CV_32F).var())


def colorfulness(a: np.ndarray) -> float:
    r, g, b = (a[..., i].astype(np.float64) * 255.0 for i in range(3))
    rg = r - g
    yb = 0.5 * (r + g) - b
    return float(
        math.hypot(rg.std(), yb.std()) + 0.3 * math.hypot(rg.mean(), yb.mean())
    )


def resize_to(a: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(H, W, C) float image resized to ``size`` (width, height) with bicubic (area when shrinking)."""
    import cv2

    w, h = size
    if (a.shape[1], a.shape[0]) == (w, h):
        return a
    interp = cv2.INTER_AREA if w < a.shape[1] else cv2.INTER_CUBIC
    return np.clip(cv2.resize(a, (w, h), interpolation=interp), 0, 1)


def compare(result: np.ndarray, reference: np.ndarray) -> dict[str, float]:
    """PSNR (dB), SSIM and MSE of ``result`` against ``reference`` (same size, float in [0, 1])."""
    from skimage.metrics import mean_squared_error, peak_signal_noise_ratio, structural_similarity

    mse = float(mean_squared_error(reference, result))
    psnr = float("inf") if mse == 0 else float(peak_signal_noise_ratio(reference, result, data_range=1.0))
    a, b = _luma(result), _luma(reference)
    side = max(a.shape)
    if side > _SSIM_MAX_SIDE:
        f = _SSIM_MAX_SIDE / side
        size = (max(7, round(a.shape[1] * f)), max(7, round(a.shape[0] * f)))
        a = resize_to(a[..., None], size)
        b = resize_to(b[..., None], size)
    if min(a.shape[:2]) < 7:
        ssim = 1.0 if mse == 0 else float("nan")
    else:
        ssim = float(structural_similarity(b, a, data_range=1.0))
    return {"psnr": psnr, "ssim": ssim, "mse": mse}


def compute(
    result: np.ndarray,
    source: np.ndarray,
    reference: np.ndarray | None = None,
    timings: dict[str, float] | None = None,
) -> dict[str, Any]:
    """All metrics of ``result`` (H, W, 3) given the ``source`` it came from."""
    out_size = (result.shape[1], result.shape[0])
    against = "reference" if reference is not None else "input resized"
    resized = resize_to(source, out_size)
    ref = resize_to(reference, out_size) if reference is not None else resized
    m: dict[str, Any] = compare(result, ref)
    m.update(
        compared_with=against,
        # Sharpness depends on the picture's size: the input is measured at the result's size.
        sharpness_in=sharpness(resized),
        sharpness_out=sharpness(result),
        colorfulness_in=colorfulness(source),
        colorfulness_out=colorfulness(result),
        size_in=[source.shape[1], source.shape[0]],
        size_out=list(out_size),
    )
    if timings is not None:
        m["seconds"] = {k: round(v, 4) for k, v in timings.items()}
    return m


def table(m: dict[str, Any] | None) -> list[list[str]]:
    """An image's metrics as rows of (measure, input, result), for people to read."""
    if not m:
        return []
    size = lambda v: f"{v[0]}×{v[1]}"  # noqa: E731
    rows = [
        ["size", size(m["size_in"]), size(m["size_out"])],
        ["sharpness (Laplacian var.; the input resized to the result's size)", f"{m['sharpness_in']:.4g}",
         f"{m['sharpness_out']:.4g}"],
        ["colorfulness", f"{m['colorfulness_in']:.3g}", f"{m['colorfulness_out']:.3g}"],
        [f"PSNR / SSIM vs {m['compared_with']}", "", f"{m['psnr']:.2f} dB / {m['ssim']:.4f}"],
    ]
    rows += [[f"time: {stage}", "", f"{secs:.2f} s"] for stage, secs in (m.get("seconds") or {}).items()]
    if m.get("stages"):
        rows.append(["stages", "", " → ".join(m["stages"])])
    rows.append(["device", "", str(m.get("device", ""))])
    return rows
