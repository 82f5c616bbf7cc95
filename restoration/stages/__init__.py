"""The pipeline's stages: pure functions on tensors ``(N, C, H, W)``, float32 in [0, 1].

No stage keeps state between calls, so concurrent requests never see each other's data.
"""

from .colorize import colorize, is_monochrome
from .denoise import denoise, denoise_with
from .sharpen import sharpen
from .superres import plan_passes, resize, superres

__all__ = ["colorize", "denoise", "denoise_with", "is_monochrome", "plan_passes", "resize", "sharpen", "superres"]
