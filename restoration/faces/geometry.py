"""Aligning a face to the 512 px FFHQ template and warping it back, on tensors (CPU or GPU).

Coordinates are pixel indices with pixel centres on integers (OpenCV's convention). ``alignment``
gives the 3x3 similarity that maps picture pixels to crop pixels; ``crop`` samples the aligned face;
``paste`` maps every output pixel near the face back into the crop (through the output's scale) and
blends the restored face in under a soft mask, so nothing outside the mask changes.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

CROP = 512
# Five landmarks of the 512 px FFHQ-aligned face: image-left eye, image-right eye, nose, mouth left,
# mouth right (the order YuNet gives them in).
TEMPLATE = np.array([[192.98, 239.95], [318.90, 240.19], [256.63, 314.02], [201.26, 371.41],
                     [313.09, 371.15]], np.float64)


def _least_squares_similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The similarity (rotation, uniform scale, shift) that maps ``src`` points onto ``dst`` best."""
    mu_s, mu_d = src.mean(0), dst.mean(0)
    s, d = src - mu_s, dst - mu_d
    a = (s * d).sum() / (s**2).sum()
    b = (s[:, 0] * d[:, 1] - s[:, 1] * d[:, 0]).sum() / (s**2).sum()
    rot = np.array([[a, -b], [b, a]])
    return np.hstack([rot, (mu_d - rot @ mu_s)[:, None]])


def alignment(landmarks: np.ndarray) -> np.ndarray:
    """3x3 matrix taking picture pixels to 512 px crop pixels for a face with these ``landmarks``."""
    m = _least_squares_similarity(np.asarray(landmarks, np.float64), TEMPLATE)
    return np.vstack([m, [0.0, 0.0, 1.0]])


def _grid(coords: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Pixel coordinates (..., 2) in an image of ``size`` (H, W) as grid_sample's [-1, 1] grid."""
    h, w = size
    scale = torch.tensor([2.0 / max(w - 1, 1), 2.0 / max(h - 1, 1)], device=coords.device)
    return coords * scale - 1.0


def _mapped(matrix: np.ndarray, x0: int, y0: int, w: int, h: int, device: torch.device) -> torch.Tensor:
    """``matrix`` applied to every pixel of the box (x0, y0, w, h): (h, w, 2) coordinates."""
    m = torch.tensor(matrix[:2], dtype=torch.float32, device=device)
    ys, xs = torch.meshgrid(torch.arange(y0, y0 + h, device=device, dtype=torch.float32),
                            torch.arange(x0, x0 + w, device=device, dtype=torch.float32), indexing="ij")
    pts = torch.stack([xs, ys, torch.ones_like(xs)], -1)
    return pts @ m.T


def crop(image: torch.Tensor, matrix: np.ndarray) -> torch.Tensor:
    """The aligned face (1, C, 512, 512) from ``image`` (1, C, H, W); outside the picture, its edge
    is mirrored."""
    coords = _mapped(np.linalg.inv(matrix), 0, 0, CROP, CROP, image.device)
    grid = _grid(coords, tuple(image.shape[-2:]))[None]
    return F.grid_sample(image, grid, mode="bicubic", padding_mode="reflection", align_corners=True).clamp_(0, 1)


def output_matrix(matrix: np.ndarray, scale: tuple[float, float]) -> np.ndarray:
    """``matrix`` (picture -> crop) for an output ``scale`` (sx, sy) times the picture's size:
    output pixel -> crop pixel (pixel centres: x_in = (x_out + 0.5) / sx - 0.5)."""
    sx, sy = scale
    a = np.array([[1 / sx, 0, 0.5 / sx - 0.5], [0, 1 / sy, 0.5 / sy - 0.5], [0, 0, 1]])
    return matrix @ a


def paste(out: torch.Tensor, face: torch.Tensor, mask: torch.Tensor, matrix: np.ndarray) -> torch.Tensor:
    """Blend ``face`` (1, C, 512, 512) into ``out`` (1, C, H, W) under ``mask`` (1, 1, 512, 512), with
    ``matrix`` taking output pixels to crop pixels. Only the face's bounding box is touched; pixels
    where the mask is 0 keep their value exactly. Returns ``out`` (changed in place)."""
    h, w = out.shape[-2:]
    inv = np.linalg.inv(matrix)
    corners = inv @ np.array([[0, CROP - 1, 0, CROP - 1], [0, 0, CROP - 1, CROP - 1], [1, 1, 1, 1]])
    x0, y0 = (max(0, int(np.floor(corners[i].min())) - 1) for i in (0, 1))
    x1, y1 = min(w, int(np.ceil(corners[0].max())) + 2), min(h, int(np.ceil(corners[1].max())) + 2)
    if x1 <= x0 or y1 <= y0:
        return out
    grid = _grid(_mapped(matrix, x0, y0, x1 - x0, y1 - y0, out.device), (CROP, CROP))[None]
    f = F.grid_sample(face.to(out.dtype), grid, mode="bicubic", padding_mode="border", align_corners=True).clamp_(0, 1)
    m = F.grid_sample(mask.to(out.dtype), grid, mode="bilinear", padding_mode="zeros", align_corners=True)
    roi = out[..., y0:y1, x0:x1]
    out[..., y0:y1, x0:x1] = torch.where(m > 0, roi + (f - roi) * m, roi)
    return out


def box_mask(device: torch.device, feather: float = 0.1) -> torch.Tensor:
    """A soft square (1, 1, 512, 512): 1 inside, falling smoothly to 0 over the outer ``feather`` of
    the crop, so the pasted square has no edge."""
    idx = torch.arange(CROP, device=device, dtype=torch.float32)
    edge = torch.minimum(idx, CROP - 1 - idx) / (feather * CROP)
    ramp = edge.clamp(0, 1)
    ramp = ramp * ramp * (3 - 2 * ramp)  # smoothstep
    return (ramp[:, None] * ramp[None, :])[None, None]
