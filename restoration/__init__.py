"""AI image and video restoration: denoise, super-resolution, colorization, sharpening.

>>> from restoration import restore_image, RestoreOptions
>>> result = restore_image("old.jpg", RestoreOptions.from_preset("old-photo"))
>>> result.image.pixels.shape, result.metrics["psnr"]

Nothing heavy happens at import: models load on first use.
"""

from __future__ import annotations

__version__ = "0.1.0"

from .catalog import ModelSpec, get_spec, list_models, register  # noqa: E402
from .errors import (  # noqa: E402
    ChecksumMismatchError,
    ImageReadError,
    ImageWriteError,
    ModelLoadError,
    OptionError,
    OutOfMemoryError,
    RestorationError,
    UnknownModelError,
    WeightsUnavailableError,
)
from .media import ImageData, read_image, write_image  # noqa: E402
from .options import PRESETS, RestoreOptions  # noqa: E402
from .pipeline import RestoreResult, restore_file, restore_image, restore_tensor  # noqa: E402

__all__ = [
    "PRESETS",
    "ChecksumMismatchError",
    "ImageData",
    "ImageReadError",
    "ImageWriteError",
    "ModelLoadError",
    "ModelSpec",
    "OptionError",
    "OutOfMemoryError",
    "RestorationError",
    "RestoreOptions",
    "RestoreResult",
    "UnknownModelError",
    "WeightsUnavailableError",
    "__version__",
    "get_spec",
    "list_models",
    "read_image",
    "register",
    "restore_file",
    "restore_image",
    "restore_tensor",
    "write_image",
]
