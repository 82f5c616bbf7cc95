"""AI image and video restoration: denoise, super-resolution, colorization, sharpening.

>>> from restoration import restore_image, build_options
>>> result = restore_image("old.jpg", build_options("old-photo", upscale=2))
>>> result.image.pixels.shape, result.metrics["psnr"]

Importing the package is light: the public names below load their modules (and torch) on first
use, so ``restoration.options`` and ``restoration.config`` can be shared by programs without torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__

# public name -> the module that defines it
_LAZY: dict[str, str] = {
    **dict.fromkeys(("ModelSpec", "get_spec", "list_models", "register"), "catalog"),
    **dict.fromkeys((
        "ChecksumMismatchError", "ConfigError", "ImageReadError", "ImageWriteError", "ModelLoadError",
        "OptionError", "OutOfMemoryError", "RestorationError", "UnknownModelError", "VideoReadError",
        "VideoWriteError", "Cancelled", "WeightsUnavailableError",
    ), "errors"),
    **dict.fromkeys(("ImageData", "read_image", "write_image"), "media"),
    **dict.fromkeys(("PRESETS", "RestoreOptions", "VideoOptions", "build_options", "build_video_options"),
                    "options"),
    **dict.fromkeys(("RestoreResult", "Restorer", "prepare", "restore_file", "restore_image", "restore_tensor"),
                    "pipeline"),
    "BatchSummary": "batch",
    **dict.fromkeys(("restore_archive", "restore_folder", "restore_video"), "jobs"),
    "VideoResult": "video",
    "interpolate": "interpolation",
    "preview_video": "preview",
}

__all__ = [
    "BatchSummary",
    "Cancelled",
    "ChecksumMismatchError",
    "ConfigError",
    "ImageData",
    "ImageReadError",
    "ImageWriteError",
    "ModelLoadError",
    "ModelSpec",
    "OptionError",
    "OutOfMemoryError",
    "PRESETS",
    "RestorationError",
    "RestoreOptions",
    "RestoreResult",
    "Restorer",
    "UnknownModelError",
    "VideoOptions",
    "VideoReadError",
    "VideoResult",
    "VideoWriteError",
    "WeightsUnavailableError",
    "__version__",
    "build_options",
    "build_video_options",
    "get_spec",
    "interpolate",
    "list_models",
    "prepare",
    "preview_video",
    "read_image",
    "register",
    "restore_archive",
    "restore_file",
    "restore_folder",
    "restore_image",
    "restore_tensor",
    "restore_video",
    "write_image",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'restoration' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:  # for type checkers and IDEs only
    from .batch import BatchSummary
    from .catalog import ModelSpec, get_spec, list_models, register
    from .errors import (
        Cancelled,
        ChecksumMismatchError,
        ConfigError,
        ImageReadError,
        ImageWriteError,
        ModelLoadError,
        OptionError,
        OutOfMemoryError,
        RestorationError,
        UnknownModelError,
        VideoReadError,
        VideoWriteError,
        WeightsUnavailableError,
    )
    from .jobs import restore_archive, restore_folder, restore_video
    from .media import ImageData, read_image, write_image
    from .options import PRESETS, RestoreOptions, VideoOptions, build_options, build_video_options
    from .pipeline import Restorer, RestoreResult, prepare, restore_file, restore_image, restore_tensor
    from .video import VideoResult
