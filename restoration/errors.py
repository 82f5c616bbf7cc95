"""Named exceptions of the restoration library.

Every exception here also subclasses the built-in that describes it best, so callers that only know
Python's own exceptions (``ValueError``, ``FileNotFoundError``...) still catch them. Messages are
written for the person who gave the input: they name it and say what to do.
"""

from __future__ import annotations


class RestorationError(Exception):
    """Base class of every error this library raises on purpose."""


class OptionError(RestorationError, ValueError):
    """An option has a wrong type or a value outside its allowed range."""


class UnknownModelError(RestorationError, KeyError):
    """A model id that is not in the catalogue."""

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return str(self.args[0]) if self.args else ""


class WeightsUnavailableError(RestorationError, FileNotFoundError):
    """A model's weights are neither in the local folder, nor cached, nor downloadable now.

    ``option`` names the option whose model it is ("model", "face", "face_mask", "color_model",
    "denoise_model") and ``model`` the model, when a job found it missing before its work
    (``Restorer.check_models``), so a surface can tell its user which setting does without it; None
    otherwise. ``missing``: every (option, model) the job lacks, when it lacks more than this one."""

    option: str | None = None
    model: str | None = None
    missing: tuple[tuple[str, str], ...] = ()


class ChecksumMismatchError(RestorationError, OSError):
    """A weight file's sha256 differs from the pinned one. ``option``, ``model``: as
    ``WeightsUnavailableError``'s."""

    option: str | None = None
    model: str | None = None
    missing: tuple[tuple[str, str], ...] = ()


class ModelLoadError(RestorationError, RuntimeError):
    """A weight file exists but does not hold the network the catalogue promises."""


class ImageReadError(RestorationError, ValueError):
    """An input file is missing, empty, truncated or not an image we can read."""


class ImageWriteError(RestorationError, OSError):
    """An output could not be written (unknown format, unwritable folder...)."""


class OutOfMemoryError(RestorationError, MemoryError):
    """The device ran out of memory even with the smallest tile size."""


class ConfigError(RestorationError, ValueError):
    """An environment setting holds a value that cannot be used; the message names the variable."""


class VideoReadError(RestorationError, ValueError):
    """An input is not a readable video: missing, empty, truncated, no video stream, no frames."""


class VideoWriteError(RestorationError, OSError):
    """The output video could not be written."""


class Cancelled(RestorationError):
    """A job was cancelled; a video's finished segments are kept so a rerun resumes."""
