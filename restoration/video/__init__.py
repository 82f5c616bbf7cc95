"""Video restoration: stream frames through the image stages, keep timing, rotation, audio, subtitles.

Modules: ``probe`` (what a file holds), ``plan`` (a job checked and cut into pieces), ``piece`` (one
stretch of frames through the stages, with its own temporal state), ``frames`` (a frame, a pass),
``decode`` (the decoder thread), ``fields`` (deinterlacing and telecine, in the decoder), ``colour`` (a
video's matrix, range and depth kept), ``cuts`` (scene cuts), ``stabilize`` (temporal smoothing and the
flicker measure), ``interpolate`` (frame interpolation as a pass), ``encoders`` (which encoder),
``segments`` (encoding into resumable segments, the encoder thread), ``assemble`` (joining segments
with the source's audio and subtitles) and ``finish`` (the ending every job shares). The front door,
``restore_video``, is in ``restoration.jobs``; codecs and ``VideoOptions`` live in
``restoration.options``; the errors in ``restoration.errors``.
"""

from ..errors import Cancelled, VideoReadError, VideoWriteError
from ..options import CODECS, VideoOptions
from .finish import VideoResult, discard_parts
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
]
