"""Frame interpolation: the frames between two frames, with RIFE 4.25/4.26 (``ifnet``, ``rife``).

>>> from restoration import interpolate
>>> middle = interpolate(frame_a, frame_b)            # RGB uint8 (H, W, 3) in and out
>>> thirds = interpolate(frame_a, frame_b, [1 / 3, 2 / 3])
"""

from __future__ import annotations

from .rife import DEFAULT_MODEL, Interpolator, Prepared, check_model, interpolate, load_interpolator

__all__ = ["DEFAULT_MODEL", "Interpolator", "Prepared", "check_model", "interpolate", "load_interpolator"]
