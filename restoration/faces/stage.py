"""The face stage: faces found in the (denoised) input, restored at 512 px, pasted into the output.

Pure function on tensors: ``restore_faces`` takes the input the faces are cut from, the image they
go into (the super-resolved one, or the input itself when super-resolution is off), the faces of each
image, the restoring network and the mask maker. Nothing outside a face's mask changes; an image
without faces comes back unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from .detect import Face
from .geometry import alignment, box_mask, crop, output_matrix, paste

_PER_CALL = 8  # faces per network call
_MAX_CACHED = 64  # masks kept for tracked faces


@dataclass
class FaceReport:
    """What the stage did, over all images: faces ``found``, ``restored``, ``skipped`` (smaller than
    the minimum size), the restored faces' ``boxes`` (x, y, w, h in input pixels, per image), a few ``crops``
    (before, after) for a preview, as (3, 512, 512) CPU tensors."""

    found: int = 0
    restored: int = 0
    skipped: int = 0
    boxes: list[list[list[float]]] = field(default_factory=list)
    crops: list[tuple[torch.Tensor, torch.Tensor]] = field(default_factory=list)

    def to_dict(self) -> dict:
        note = "no face found" if not self.found else f"{self.restored} of {self.found} face(s) restored"
        return {"found": self.found, "restored": self.restored, "skipped": self.skipped,
                "boxes": [box for image in self.boxes for box in image], "note": note}


def select(faces: list[Face], min_size: float) -> tuple[list[Face], int]:
    """The faces at least ``min_size`` input pixels large, and how many were smaller."""
    kept = [f for f in faces if f.size >= min_size]
    return kept, len(faces) - len(kept)


def restore_faces(
    source: torch.Tensor,
    target: torch.Tensor,
    faces: list[list[Face]],
    network: Callable[[torch.Tensor], torch.Tensor],
    masker: Callable[[torch.Tensor], torch.Tensor] | None = None,
    *,
    keep_crops: int = 0,
    report: FaceReport | None = None,
    mask_cache: dict[int, torch.Tensor] | None = None,
) -> torch.Tensor:
    """``target`` (N, 3, H, W) with the faces of ``source`` (N, 3, h, w) restored and pasted in.

    ``faces[i]`` are image i's faces in ``source`` pixels; ``network`` maps aligned crops (n, 3, 512,
    512) in [0, 1] to restored ones; ``masker`` gives their soft masks (default: the feathered
    square). Every face is aligned by
    its landmarks, restored, and warped back through the inverse transform at ``target``'s scale.
    ``mask_cache`` keeps each tracked face's first mask (a video: the same mask every frame).
    """
    out = target.clone()
    scale = (target.shape[-1] / source.shape[-1], target.shape[-2] / source.shape[-2])
    report = report if report is not None else FaceReport()
    for i, image_faces in enumerate(faces):
        if not image_faces:
            continue
        mats = [alignment(f.landmarks) for f in image_faces]
        crops = torch.cat([crop(source[i : i + 1].float(), m) for m in mats])
        restored = torch.cat([network(crops[k : k + _PER_CALL]) for k in range(0, len(mats), _PER_CALL)])
        restored = restored.to(target.device, torch.float32)
        masks = masker(restored) if masker is not None else box_mask(target.device).expand(len(mats), -1, -1, -1)
        if mask_cache is not None and masker is not None:
            masks = torch.stack([_cached(mask_cache, f.track, masks[k]) for k, f in enumerate(image_faces)])
        for k in sorted(range(len(mats)), key=lambda k: image_faces[k].size):  # the largest face on top
            paste(out[i : i + 1], restored[k : k + 1], masks[k : k + 1], output_matrix(mats[k], scale))
        report.restored += len(mats)
        for k in range(min(len(mats), keep_crops - len(report.crops))):
            report.crops.append((crops[k].float().cpu(), restored[k].cpu()))
    return out


def _cached(cache: dict[int, torch.Tensor], track: int | None, mask: torch.Tensor) -> torch.Tensor:
    if track is None:
        return mask
    if track not in cache:
        if len(cache) >= _MAX_CACHED:
            cache.pop(next(iter(cache)))
        cache[track] = mask
    return cache[track]
