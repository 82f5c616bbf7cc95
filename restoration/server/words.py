"""The words a visitor reads: an error in their terms (which setting does without a missing model,
an option by its widget's label), and a tab's status line, which keeps a failed run's reason until the
next run. The operator's detail goes to the log."""

from __future__ import annotations

import logging
import re
import threading
from collections import OrderedDict
from typing import Any

from ..errors import ChecksumMismatchError, OptionError, RestorationError, WeightsUnavailableError
from ..options import FIELDS

log = logging.getLogger(__name__)

_MISSING = {  # option -> (what is missing, what the visitor can do)
    "model": ("The upscaler {}", "choose another Upscaler, or set Upscale to 0"),
    "denoise_model": ("The denoiser {}", "choose nlm as the Denoiser, or set Denoise to 0"),
    "face": ("The face model {}", "set Faces to off to restore without it"),
    "face_mask": ("The face-parsing model", "set Face mask to box"),
    "color_model": ("The colorizer {}", "set Colorize to off to restore without it"),
    "interpolation_model": ("The frame interpolation model {}", "set the frame-rate multiplier to 1 and the "
                            "target frame rate to empty"),
}


def for_visitor(e: BaseException) -> str:
    """What a visitor reads for ``e``: a model the job needs that is not on the server says which
    setting does without it (the operator's detail, with the folder or command that provides it, goes
    to the log); an option error starts with the widget's label; other library errors are their own
    message; anything else is an internal error, logged with its traceback."""
    if isinstance(e, (WeightsUnavailableError, ChecksumMismatchError)) and e.option in _MISSING:
        log.warning("%s model %s unavailable: %s", e.option, e.model, e)
        missing = [m for m in (e.missing or ((e.option, e.model),)) if m[0] in _MISSING]
        if len(missing) == 1:
            text = _missing(*missing[0])
            return text[0].upper() + text[1:] + "."
        return "This server lacks more than one model this job needs: " + "; ".join(_missing(*m) for m in missing) + "."
    if isinstance(e, OptionError):  # "model: ..." -> "Upscaler: model: ...", the widget the visitor sees
        name = re.match(r"(\w+)[=:]", str(e))
        return f"{FIELDS[name[1]].label}: {e}" if name and name[1] in FIELDS else str(e)
    if isinstance(e, RestorationError):
        return str(e)
    log.error("unexpected failure", exc_info=e)
    return f"Internal error ({type(e).__name__}); the server is fine, try again or report it."


def _missing(option: str, model: str) -> str:
    """One model the job needs that this server lacks, and the setting that does without it."""
    if option == "face" and model == "yunet":
        return "face detection is not available on this server: set Faces to off to restore without it"
    what, do = _MISSING[option]
    return f"{what.format(model)} is not available on this server: {do}"


def unreadable(e: BaseException, endpoint: str, not_uploaded: bool) -> str:
    """What a caller of the HTTP API reads when an input could not be read: a file named by a path
    that was not uploaded first, or a value of the wrong shape."""
    if not_uploaded:
        path = str(e).split(" to the gradio")[0].replace("Cannot move ", "")
        return (f"{path}: not a file uploaded to this server; upload it first (POST /gradio_api/upload) and send "
                "the path the upload returned")
    first = (str(e).strip().splitlines() or [""])[0]
    return (f"/{endpoint}: the values sent could not be read ({type(e).__name__}: {first[:200]}); see "
            "/gradio_api/info for what each input takes")


def markdown_text(text: str) -> str:
    """``text`` with Markdown's special characters escaped."""
    return re.sub(r"([\\`*_{}\[\]<>()#+!|])", r"\\\1", text)


def batch_status(report: dict[str, Any] | None) -> str:
    """The status line (Markdown) of a batch that delivered: why it stopped part-way, or ""."""
    stopped = (report or {}).get("stopped")
    done = len((report or {}).get("restored") or [])
    return f"**Stopped after {done} file(s):** {markdown_text(stopped)} The zip holds the finished files." \
        if stopped else ""


class RunStatus:
    """Each visitor's last run in each tab (a session's): how far it got (its last progress line), why it
    failed, whether they stopped it, for a status line that says so until the next run. Bounded: API
    callers, who never read it back, cannot make it grow."""

    def __init__(self, size: int = 1024) -> None:
        self._runs: OrderedDict[tuple[str, str], dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()
        self._size = size

    def _run(self, session: str | None, tab: str) -> dict[str, Any]:
        key = (session or "", tab)
        run = self._runs.setdefault(key, {})
        self._runs.move_to_end(key)
        while len(self._runs) > self._size:
            self._runs.popitem(last=False)
        return run

    def start(self, session: str | None, tab: str) -> None:
        """A new run: nothing of the last one is said any more."""
        with self._lock:
            self._run(session, tab).clear()

    def progress(self, session: str | None, tab: str, message: str) -> None:
        if session:
            with self._lock:
                self._run(session, tab)["progress"] = message

    def put(self, session: str | None, tab: str, message: str) -> None:
        """The run failed, and ``message`` says why."""
        if session:
            with self._lock:
                self._run(session, tab)["error"] = message

    def stop(self, session: str | None, tab: str) -> str:
        """The visitor stopped the run: the status line (Markdown) that says so, and how far it got."""
        with self._lock:
            run = self._run(session, tab)
            run["stopped"] = True
            where = run.get("progress", "")
        got = f" at {markdown_text(where.split(' · ')[0])}" if where else ""
        return f"**Stopped**{got}, as you asked. Nothing of it is kept; press the button again to start over."

    def status(self, session: str | None, tab: str) -> str:
        """The status line (Markdown) after a run that did not end well: stopped, or failed and why."""
        with self._lock:
            run = dict(self._run(session, tab))
        if run.get("stopped"):
            return self.stop(session, tab)
        message = run.get("error") or "see the message in the corner of the page"
        return f"**The last run failed:** {markdown_text(message)}"


def video_summary(metrics: dict[str, Any] | None) -> str:
    """A finished video's metrics in a few sentences (Markdown); the JSON stays for the API."""
    m = metrics or {}
    if not m:
        return ""
    (w0, h0), (w1, h1) = m.get("size_in", [0, 0]), m.get("size_out", [0, 0])
    audio = m.get("audio_copied", 0) + m.get("audio_reencoded", 0)
    lines = [f"**{m.get('frames', 0)} frames**, {w0}×{h0} → {w1}×{h1}, restored in {_seconds(m.get('seconds_total'))} "
             f"({m.get('fps_processing', 0):.1f} frames a second)."]
    lines.append(f"Audio: {audio} track(s) kept." if audio else "No audio track.")
    smoother = m.get("interpolation")
    if smoother:
        lines.append(f"Smoother motion: {smoother['frames_written']} frames at {smoother['fps_out']:g} fps from "
                     f"{smoother['fps_in']:.4g} fps; {smoother['made']} drawn by {smoother['model']}, "
                     f"{smoother['repeated']} repeating a frame (at scene cuts, and after the last frame so the "
                     "length stays).")
    if m.get("resumed_from_frame"):
        lines.append(f"Resumed: the first {m['resumed_from_frame']} frames came from an earlier run.")
    if m.get("scene_cuts"):
        lines.append(f"{m['scene_cuts']} scene cut(s): the smoothing starts again at each.")
    faces = m.get("faces")
    if faces:
        lines.append(f"Faces: {faces.get('restored', 0)} restored in {faces.get('tracks', 0)} track(s).")
    if m.get("psnr_mean") == m.get("psnr_mean"):  # not NaN
        lines.append(f"Against the input (one frame a second): PSNR {m['psnr_mean']:.1f} dB, SSIM "
                     f"{m.get('ssim_mean', 0):.3f}; sharpness {m.get('sharpness_mean', 0):.3g}.")
    lines += [f"⚠ {markdown_text(w)}" for w in m.get("warnings", [])]
    return "\n\n".join(lines)


def _seconds(value: Any) -> str:
    from ..progress import duration

    return duration(float(value or 0))


def batch_table(report: dict[str, Any] | None) -> list[list[str]]:
    """A batch's report as rows for people: file, result, size, note."""
    r = report or {}
    rows = [[i["file"], "restored", "×".join(map(str, i.get("size_out") or [])),
             "" if i.get("psnr") is None else f"PSNR {i['psnr']:.1f} dB against the input"]
            for i in r.get("restored", [])]
    rows += [[i["file"], "not done", "", i.get("error") or ""] for i in r.get("failed", [])]
    rows += [[s.split(": ", 1)[0], "skipped", "", s.split(": ", 1)[-1]] for s in r.get("skipped", [])]
    return rows


_MENUS = {"super-resolution": "Upscaler", "restoration": "Denoiser", "face-restoration": "Faces"}


def added(info: dict[str, Any] | None, upload: Any = None) -> str:
    """What a visitor reads when their model was added (Markdown)."""
    i = info or {}
    use = _MENUS.get(i.get("task", ""), "model")
    commercial = {None: "unknown", True: "yes", False: "no"}[i.get("commercial_use")]
    return (f"**Added {markdown_text(i.get('name', ''))}**: {i.get('architecture')} ×{i.get('scale')} "
            f"({i.get('task')}). Choose it in the **{use}** menu of any tab. Licence: "
            f"{markdown_text(str(i.get('license', 'unknown')))}; commercial use: {commercial}.")


def removed(remaining: Any, name: Any) -> str:
    """What a visitor reads when their model ``name`` was removed (Markdown)."""
    return f"**Removed {markdown_text(str(name or ''))}.** It is gone from every menu."
