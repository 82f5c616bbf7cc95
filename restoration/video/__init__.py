"""Video restoration: stream frames through the image stages, keep timing, rotation, audio, subtitles.

Modules: ``probe`` (what a file holds), ``decode`` (the decoder thread), ``segments`` (encoding into
resumable segments, the encoder thread), ``stabilize`` (temporal smoothing and the flicker measure),
``assemble`` (joining segments with the source's audio and subtitles) and ``job`` (``restore_video``).
Codecs and ``VideoOptions`` live in ``restoration.options``; the errors in ``restoration.errors``.
"""

from ..errors import Cancelled, VideoReadError, VideoWriteError
from ..options import CODECS, VideoOptions
from .job import VideoResult, discard_parts, restore_video
from .probe import VIDEO_EXTENSIONS, VideoInfo, probe
from .stabilize import TemporalStabilizer, chroma_flicker

__all__ = [
    "CODECS",
    "VIDEO_EXTENSIONS",
    "Cancelled",
    "TemporalStabilizer",
    "VideoInfo",
    "VideoOptions",
    "VideoReadError",
    "VideoResult",
    "VideoWriteError",
    "chroma_flicker",
    "discard_parts",
    "probe",
    "restore_video",
]
