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
        return "This server lacks more than one model this job needs: " + "; ".join(map(_missing, missing)) + "."
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


class LastErrors:
    """The last failure of each visitor's session in each tab, for a status line that keeps the reason
    until the next run. Bounded: API callers, who never read it back, cannot make it grow."""

    def __init__(self, size: int = 1024) -> None:
        self._messages: OrderedDict[tuple[str, str], str] = OrderedDict()
        self._lock = threading.Lock()
        self._size = size

    def put(self, session: str | None, tab: str, message: str) -> None:
        if not session:
            return
        with self._lock:
            self._messages[session, tab] = message
            while len(self._messages) > self._size:
                self._messages.popitem(last=False)

    def status(self, session: str | None, tab: str) -> str:
        """The status line (Markdown) after a failed run: its reason, or where it was shown."""
        with self._lock:
            message = self._messages.pop((session or "", tab), None)
        return f"**The last run failed:** {markdown_text(message or 'see the message in the corner of the page')}"


