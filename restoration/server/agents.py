"""The tools AI agents call (through the app's MCP server): restore an image, restore a short video,
list the models. Made for a caller that reads every word: defaults that work on any server (the
upscaler "auto" is the best one this server has; faces, colour and denoising are off unless asked),
inputs as a URL or base64 (``fetch``), results as the picture itself and a few sentences of what was
done, a download link for what is too large to send back, and never a path of the server.

Each tool is a plain function whose last argument is a ``Caller`` (who asks, on which host, at which
address); ``tool_doc`` writes its description and one line per argument, as MCP tool lists show them.
"""

from __future__ import annotations

import base64
import io
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import config
from ..errors import OptionError
from ..media import ImageData, read_image
from ..options import PRESETS, build_video_options
from .catalogue import best_available, catalogue, visitor_job
from .fetch import read_input
from .host import Host

INLINE_MAX_SIDE = 2048  # a restored picture larger than this comes back as a preview, with the link
INLINE_MAX_PIXELS = 2_000_000  # ... and one with more pixels as a JPEG preview rather than a PNG


@dataclass
class Caller:
    """Who calls a tool: the ``host`` it runs on and the address it was reached at (``base_url``, for
    links to results)."""

    host: Host
    base_url: str

    def link(self, path: Path) -> str:
        """The address of the result file ``path`` (``/results/<request folder>/<file>``)."""
        rel = path.resolve().relative_to(self.host.settings.output_root.resolve())
        return f"{self.base_url.rstrip('/')}/results/{rel.as_posix()}"


def base_url(headers: dict[str, str], root_path: str = "") -> str:
    """The address a request reached this server at (behind a proxy, the one the caller used)."""
    low = {k.lower(): v for k, v in headers.items()}
    host = (low.get("x-forwarded-host") or low.get("host") or "127.0.0.1").split(",")[0].strip()
    proto = (low.get("x-forwarded-proto") or "http").split(",")[0].strip()
    return f"{proto}://{host}{root_path.rstrip('/')}"


ARGS = {
    "image": "The picture to restore: an http(s) URL this server can download, or the file as base64 "
             "(a data: URL such as data:image/png;base64,... or bare base64). PNG, JPEG, WebP, TIFF, BMP or GIF.",
    "video": "The video to restore: an http(s) URL this server can download, or the file as base64 (a data: URL). "
             "MP4, MKV, MOV, WebM or AVI; keep it short (RESTORATION_AGENT_MAX_VIDEO_S, 60 s by default).",
    "upscale": "How many times larger the result is, 1 to 8 (fractions allowed, e.g. 2.5); 0 keeps the size "
               "(no super-resolution). Default 4 for images, 2 for videos.",
    "model": "The super-resolution network: 'auto' (default: the best one this server has), or an id from "
             "list_models such as realesrgan-x4plus (photos), realesr-general-x4v3 (fast), "
             "realesrgan-x4plus-anime (drawings).",
    "denoise": "Noise removal strength, 0 (off, the default) to 30; 10-15 for grainy scans, 20-30 for very noisy "
               "pictures. Too much smooths away texture.",
    "colorize": "'off' (default) keeps the colours; 'auto' colorizes black-and-white pictures only; 'on' always "
                "(needs a colorizer on this server: see list_models).",
    "face": "'off' (default), or a face model from list_models (gfpgan-v1.4, restoreformer; codeformer is "
            "non-commercial) to restore faces in old photos.",
    "sharpen": "Detail enhancement after upscaling, 0 (off, the default) to 3.",
    "preset": "'none' (default: only the options given here), or a preset that sets every option at once: "
              "old-photo, digital, video, anime. Options given here override the preset.",
    "codec": "The restored video's codec: h264 (default, MP4, plays everywhere), h265 (MP4, smaller), vp9 "
             "(WebM), ffv1 (MKV, lossless).",
    "interpolate": "Smoother motion: 1 (default) keeps the frames; 2, 3 or 4 makes that many times the frames "
                   "(12 fps film becomes 24) with an AI frame interpolation network, never across a scene cut; "
                   "the length and audio stay.",
}


def tool_doc(summary: str, names: list[str], returns: str) -> str:
    """A tool's description for agents: what it does, one line per argument, what comes back."""
    return "\n".join([summary, "", "Args:", *(f"    {n}: {ARGS[n]}" for n in names), "", "Returns:", f"    {returns}"])


def _options(caller: Caller, given: dict[str, Any]) -> Any:
    """The options of a tool call; the upscaler "auto" is the best one this server has."""
    given = {k: v for k, v in given.items() if v is not None and v != ""}
    preset = given.get("preset", "none")
    if preset != "none" and preset not in PRESETS:
        raise OptionError(f"preset={preset!r} is not one of none, {', '.join(PRESETS)}")
    if given.get("model", "auto") == "auto" and float(given.get("upscale", 1) or 0) > 0:
        best = best_available("super-resolution")
        if best is None:
            raise OptionError("model: this server has no super-resolution model it can use; set upscale to 0")
        given["model"] = best
    elif given.get("model") == "auto":
        given.pop("model")
    return visitor_job(given)[0]


def restore_image(image: str, upscale: float = 4, model: str = "auto", denoise: float = 0,
                  colorize: str = "off", face: str = "off", sharpen: float = 0, preset: str = "none", *,
                  caller: Caller) -> tuple[str, str]:
    limit = caller.host.settings.max_upload_mb << 20
    got = read_input(image, "image", limit)
    data = read_image(got.data, name=got.name)
    opts = _options(caller, dict(upscale=upscale, model=model, denoise=denoise, colorize=colorize, face=face,
                                 sharpen=sharpen, preset=preset))
    out = caller.host.restore_image(Path(got.name), opts, data=data)
    shown, note = _inline(Path(out.file))
    return shown, _image_summary(got.name, out.metrics, opts, caller.link(Path(out.file)), note)


restore_image.__doc__ = tool_doc(
    "Restore a photo or picture: enlarge it with an AI super-resolution network (Real-ESRGAN), and optionally "
    "remove noise, restore faces, colorize a black-and-white photo and sharpen. Use it for old, small, blurry, "
    "noisy or black-and-white pictures. The defaults only enlarge x4 with the best upscaler this server has.",
    ["image", "upscale", "model", "denoise", "colorize", "face", "sharpen", "preset"],
    "the restored picture (as an image; a preview when it is very large) and a short text saying what was done, "
    "the sizes, and a link to download the full-resolution file (kept for an hour).")


def restore_video(video: str, upscale: float = 2, model: str = "auto", denoise: float = 0, colorize: str = "off",
                  face: str = "off", preset: str = "none", codec: str = "h264", interpolate: int = 1, *,
                  caller: Caller) -> str:
    from ..video import probe

    settings = caller.host.settings
    got = read_input(video, "video", settings.max_video_mb << 20)
    src = caller.host.folder() / got.name
    src.write_bytes(got.data)
    most = config.get("RESTORATION_AGENT_MAX_VIDEO_S")
    info = probe(src)
    if info.duration > most:
        raise OptionError(f"video: {got.name} is {info.duration:.0f} s long; agents may restore up to {most:.0f} s "
                          "here: cut it shorter, or use the app's Video tab or its Python client")
    opts = _options(caller, dict(upscale=upscale, model=model, denoise=denoise, colorize=colorize, face=face,
                                 preset=preset))
    vopts = build_video_options(codec=codec, interpolate=int(interpolate or 1))
    if vopts.interpolates:
        from ..jobs import check_interpolation_model

        check_interpolation_model(vopts)
    job = caller.host.video(src, {"video": got.name}, opts, vopts)
    try:
        res = job.run(threading.Event(), None)
    except BaseException:
        job.abandon()
        raise
    finally:
        shutil.rmtree(src.parent, ignore_errors=True)  # the job has its own copy where it needs one
    m = res.metrics
    (w0, h0), (w1, h1) = m["size_in"], m["size_out"]
    done = _stages(opts)
    smoother = m.get("interpolation")
    if smoother:
        done += f", {smoother['frames_written']} frames at {smoother['fps_out']:g} fps (frame interpolation)"
    text = (f"Restored {got.name}: {m['frames']} frames, {w0}x{h0} -> {w1}x{h1}, {done}; audio kept "
            f"({m.get('audio_copied', 0) + m.get('audio_reencoded', 0)} track(s)); took {m['seconds_total']:.0f} s. "
            f"Download ({codec}, kept for an hour): {caller.link(res.path)}")
    return " ".join([text, *m.get("warnings", [])])


restore_video.__doc__ = tool_doc(
    "Restore a short video clip: enlarge every frame with an AI super-resolution network, optionally remove noise, "
    "restore faces or colorize a black-and-white film; audio and timing are kept. Slow without a GPU (a few "
    "seconds of video can take minutes): keep clips short. The defaults only enlarge x2 with the best upscaler "
    "this server has.",
    ["video", "upscale", "model", "denoise", "colorize", "face", "preset", "codec", "interpolate"],
    "a short text saying what was done, the sizes, the time it took, and a link to download the restored video.")


def list_models(*, caller: Caller) -> str:
    rows = ["| id | what it does | here | licence |", "|---|---|---|---|"]
    for m in catalogue():
        if m.get("source") == "added":
            continue
        licence = m["license"] + ("" if m.get("commercial_use", True) or "non-commercial" in m["license"]
                                  else " (non-commercial)")
        rows.append(f"| {m['id']} | {m['task']}: {m['description']} | {m['available']} | {licence} |")
    return ("Models this server knows, by the option that takes them (model: super-resolution, face: "
            "face-restoration, colorize needs colorization, denoise_model: restoration). Only those 'on this server' "
            "or 'downloads on first use' can be used.\n\n" + "\n".join(rows))


list_models.__doc__ = (
    "List the AI models this server knows and whether each can be used here: super-resolution networks (the "
    "model argument), face restorers (face), colorizers (needed by colorize) and denoisers.\n\nReturns:\n"
    "    a Markdown table: id, what it does, whether it is on this server, licence.")

TOOLS: dict[str, Callable[..., Any]] = {"restore_image": restore_image, "restore_video": restore_video,
                                         "list_models": list_models}


def _stages(opts: Any) -> str:
    """What a job does, in a few words."""
    parts = [f"x{opts.upscale:g} with {opts.model}" if opts.does_superres else "same size"]
    if opts.denoises:
        parts.append("denoised as its noise asks" if opts.denoise == "auto" else f"denoised ({opts.denoise:g})")
    if opts.face != "off":
        parts.append(f"faces restored with {opts.face}")
    if opts.colorize != "off":
        parts.append("colorized" if opts.colorize == "on" else "colorized if black and white")
    if opts.sharpen:
        parts.append(f"sharpened ({opts.sharpen:g})")
    return ", ".join(parts)


def _image_summary(name: str, metrics: dict[str, Any], opts: Any, link: str, note: str) -> str:
    (w0, h0), (w1, h1) = metrics["size_in"], metrics["size_out"]
    faces = metrics.get("faces") or {}
    extra = f" {faces.get('restored', 0)} face(s) restored." if opts.face != "off" else ""
    colour = " Colorized." if metrics.get("colorized") else ""
    text = (f"Restored {name}: {w0}x{h0} -> {w1}x{h1}, {_stages(opts)}.{extra}{colour}{note} "
            f"Full resolution ({Path(link).suffix[1:].upper()}, kept for an hour): {link}")
    return " ".join([text, *metrics.get("warnings", [])])


def _inline(path: Path) -> tuple[str, str]:
    """The restored picture as a data URL the agent receives as an image: the file itself when small,
    else a preview (and a note saying so)."""
    from PIL import Image

    with Image.open(path) as im:
        im.load()
        w, h = im.size
        if max(w, h) <= INLINE_MAX_SIDE and w * h <= INLINE_MAX_PIXELS and path.suffix.lower() == ".png":
            return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode(), ""
        small = im.convert("RGB")
        small.thumbnail((INLINE_MAX_SIDE, INLINE_MAX_SIDE))
        buf = io.BytesIO()
        small.save(buf, "JPEG", quality=90)
    note = f" The image shown is a {small.width}x{small.height} preview." if (small.width, small.height) != (w, h) \
        else ""
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode(), note


def decode_image(value: str) -> ImageData:
    """A data URL a tool returned, decoded (for tests and callers that want the pixels)."""
    return read_image(base64.b64decode(value.split(",", 1)[1]))
