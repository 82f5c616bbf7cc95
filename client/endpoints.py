"""The app's API: endpoint names and parameter order, shared by app.py and the client.

Changing a name or the order here changes both sides at once. The options' meaning, ranges and
choices come from ``restoration.options`` (pure Python, no torch). An option the caller does not give
is sent as ``None`` ("not given"), so the preset's value stays.
"""

from __future__ import annotations

from restoration.options import FIELDS, Field

RESTORE_IMAGE = "/restore_image"
RESTORE_BATCH = "/restore_batch"
RESTORE_VIDEO = "/restore_video"
LIST_MODELS = "/list_models"
ADD_MODEL = "/add_model"
REMOVE_MODEL = "/remove_model"
COMPARE = "/compare_upscalers"
PREVIEW_VIDEO = "/preview_video"
# The tools for AI agents (restoration.server.agents.TOOLS) are served as /agent_<tool> (and over MCP).
AGENT_PREFIX = "/agent_"

# The option inputs every restore endpoint takes, in this order, after its media input.
OPTION_PARAMS: tuple[str, ...] = (
    "preset", "upscale", "model", "denoise", "colorize", "color_model", "sharpen", "output_format",
    "face", "face_fidelity", "face_mask", "denoise_model",
)
# /restore_video takes these after the options above.
VIDEO_PARAMS: tuple[str, ...] = ("codec", "crf", "interpolate", "fps", "interpolation_model", "deinterlace", "encoder")
# /preview_video takes these after the video options: where the stretch starts (s) and how long it is (0: a frame).
PREVIEW_PARAMS: tuple[str, ...] = ("at", "seconds")


def field(name: str) -> Field:
    """The library's definition of the option ``name`` (type, range or choices, help)."""
    return FIELDS[name]


def api_name(endpoint: str) -> str:
    """'/restore_image' -> 'restore_image' (the form gradio's ``api_name=`` takes)."""
    return endpoint.lstrip("/")
