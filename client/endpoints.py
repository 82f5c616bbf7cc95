"""The app's API: endpoint names and parameter order, shared by app.py and the client.

Changing a name or the order here changes both sides at once.
"""

from __future__ import annotations

RESTORE_IMAGE = "/restore_image"
RESTORE_BATCH = "/restore_batch"
RESTORE_VIDEO = "/restore_video"
LIST_MODELS = "/list_models"

# The option inputs every restore endpoint takes, in this order, after its media input.
OPTION_PARAMS: tuple[str, ...] = (
    "preset", "upscale", "model", "denoise", "colorize", "color_model", "sharpen", "output_format",
)
OPTION_DEFAULTS: dict[str, object] = {
    "preset": "none",
    "upscale": 4.0,
    "model": "realesrgan-x4plus",
    "denoise": 0.0,
    "colorize": "auto",
    "color_model": "ddcolor",
    "sharpen": 0.0,
    "output_format": "png",
}


def api_name(endpoint: str) -> str:
    """'/restore_image' -> 'restore_image' (the form gradio's ``api_name=`` takes)."""
    return endpoint.lstrip("/")


# /restore_video takes these after the options above.
VIDEO_PARAMS: tuple[str, ...] = ("codec", "crf")
VIDEO_DEFAULTS: dict[str, object] = {"codec": "h264", "crf": 18}
