"""What a server does for its visitors around a job, whatever its web framework: their options, the
words of an error, a job run in the background with progress and Stop, the last failure of each
visitor, and what the server offers (its models, and which of them are here).

``app.py`` adapts these to Gradio's widgets and events; nothing here imports Gradio.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from . import uploads
from .catalog import MODEL_OPTIONS, list_models
from .errors import ChecksumMismatchError, OptionError, RestorationError, WeightsUnavailableError
from .options import FIELDS, IMAGE_FIELDS, RestoreOptions, build_options
from .refs import check_not_a_path
from .weights import availability

log = logging.getLogger(__name__)

IMAGE_OPTIONS = {f.name for f in IMAGE_FIELDS}
MENU_OPTIONS = {o: t for o, t in MODEL_OPTIONS.items() if o != "color_model"}  # menus that take files too
AVAILABLE = {"local": "on this server (models folder)", "cache": "on this server (downloaded)",
             "download": "downloads on first use", "unavailable": "not available on this server"}


def visitor_options(given: dict[str, Any]) -> RestoreOptions:
    """``build_options`` for a visitor: the preset (``given["preset"]``), then the options given (None:
    not given). A visitor may not name the server's files by path; what the app writes is PNG unless a
    format is given. Raises ``OptionError``."""
    for name in MENU_OPTIONS:
        check_not_a_path(given.get(name), name)
    opts = build_options(given.get("preset"), **{k: v for k, v in given.items() if k in IMAGE_OPTIONS})
    return opts if opts.output_format else opts.with_(output_format="png")


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
        if e.option == "face" and e.model == "yunet":
            return "Face detection is not available on this server: set Faces to off to restore without it."
        what, do = _MISSING[e.option]
        return f"{what.format(e.model)} is not available on this server: {do}."
    if isinstance(e, OptionError):  # "model: ..." -> "Upscaler: model: ...", the widget the visitor sees
        name = re.match(r"(\w+)[=:]", str(e))
        return f"{FIELDS[name[1]].label}: {e}" if name and name[1] in FIELDS else str(e)
    if isinstance(e, RestorationError):
        return str(e)
    log.error("unexpected failure", exc_info=e)
    return f"Internal error ({type(e).__name__}); the server is fine, try again or report it."


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


def executor(ray_address: str | None) -> Any:
    """Where a server's batch and video jobs run: the Ray cluster at ``ray_address`` ("local": an
    embedded Ray), else GPU calls on a ZeroGPU Space (``zerogpu.Calls``), else this process (None)."""
    from . import zerogpu

    if ray_address:
        from .cluster import Cluster

        return Cluster(address=ray_address)
    return zerogpu.Calls() if zerogpu.active() else None


def add_model(file: str | None, max_mb: int) -> dict[str, Any]:
    """Add the uploaded model ``file`` (at most ``max_mb`` MB) under its own name; see
    ``uploads.add_model``. Raises ``RestorationError`` when none was given, and what it raises."""
    from pathlib import Path

    if not file:
        raise RestorationError("No model file given: upload a .safetensors, .pth or .ckpt file first.")
    return uploads.add_model(Path(file), Path(file).name, max_bytes=max_mb << 20)


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


class Background:
    """``work(cancel, progress)`` in a thread of its own, so the caller can show its progress and pass
    a Stop on (``stop``: sets ``cancel`` and waits for the work to end). ``result()`` returns what
    ``work`` returned or raises what it raised. ``stop_all`` stops every one running (a server that
    is shutting down)."""

    running_jobs: set[Background] = set()
    _jobs_lock = threading.Lock()

    def __init__(self, work: Callable[[threading.Event, Callable[[float, str], None]], Any], name: str) -> None:
        self.fraction, self.message = 0.0, "starting"
        self.cancel = threading.Event()
        self._outcome: tuple[bool, Any] | None = None
        self._thread = threading.Thread(target=self._run, args=(work,), daemon=True, name=name)
        with Background._jobs_lock:
            Background.running_jobs.add(self)
        self._thread.start()

    def _run(self, work: Callable[..., Any]) -> None:
        try:
            self._outcome = (True, work(self.cancel, self._progress))
        except BaseException as e:  # noqa: BLE001 - handed to the caller by result()
            self._outcome = (False, e)
        finally:
            with Background._jobs_lock:
                Background.running_jobs.discard(self)

    @classmethod
    def stop_all(cls, timeout: float = 8.0) -> int:
        """Cancel every job running and wait up to ``timeout`` seconds for them to end (each stops at
        its next batch of frames or file; what is finished stays, nothing is left half written).
        Returns how many there were."""
        with cls._jobs_lock:
            jobs = list(cls.running_jobs)
        for job in jobs:
            job.cancel.set()
        for job in jobs:
            job._thread.join(timeout / max(1, len(jobs)))
        return len(jobs)

    def _progress(self, fraction: float, message: str) -> None:
        self.fraction, self.message = fraction, message

    def running(self, wait: float = 0.5) -> bool:
        """Whether the work still runs, after waiting up to ``wait`` seconds for it to end."""
        self._thread.join(wait)
        return self._thread.is_alive()

    def stop(self, timeout: float = 120) -> None:
        if self._thread.is_alive():
            self.cancel.set()
            self._thread.join(timeout)

    def result(self) -> Any:
        ok, value = self._outcome if self._outcome is not None else (False, RestorationError("the job did not end"))
        if not ok:
            raise value
        return value


def stop_on_sigterm() -> None:
    """On SIGTERM (``docker stop``, a Space's restart, any supervisor): stop the running jobs (what is
    finished stays, nothing is left half written), then raise ``KeyboardInterrupt`` in the main
    thread, on which a server's loop closes as on Ctrl-C (Gradio's closes its queue and returns)."""
    import signal

    def terminate(signum: int, frame: Any) -> None:
        log.info("SIGTERM: stopped %d running job(s); closing the server", Background.stop_all())
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, terminate)


def in_background(work: Callable[[threading.Event, Callable[[float, str], None]], Any], name: str,
                  progress: Callable[[float, str], None], outputs: Callable[[], Any]) -> Any:
    """A generator for a streaming endpoint: runs ``work`` in the ``Background`` and yields
    ``outputs()`` twice a second (after reporting ``progress``) while it runs, so a page shows how far
    it is and a Stop or a closed page reaches it (the work is cancelled and waited for). Returns
    what ``work`` returned; raises what it raised."""
    job = Background(work, name)
    try:
        while job.running():
            progress(job.fraction, job.message)
            yield outputs()
    finally:
        job.stop()
    return job.result()


def menu_choices(task: str) -> list[tuple[str, str]]:
    """A model menu's (label, value) choices: "off" for faces or "nlm" for the denoiser, the
    catalogue's models of ``task`` (non-commercial ones labelled so), then the added ones."""
    first = {"face-restoration": [("off", "off")], "restoration": [("nlm", "nlm")]}.get(task, [])
    catalogue = [(s.label, s.id) for s in list_models(task)]
    added = [(f"{i['file']} ({i['architecture']} x{i['scale']}, added)", i["name"]) for i in uploads.list_added()
             if i["task"] == task]
    return [*first, *catalogue, *added]


def catalogue() -> list[dict[str, Any]]:
    """The catalogue, each model with ``available`` (here, downloaded on first use, or not
    available), then the models added to this server (``source`` "added")."""
    added = [{**info, "id": info["name"], "available": AVAILABLE["local"]} for info in uploads.list_added()]
    return [{**s.to_dict(), "available": AVAILABLE[availability(s.id)]} for s in list_models()] + added


def about(versions: dict[str, str]) -> str:
    """The server's device, ``versions`` and model table, as Markdown (where each model is now)."""
    import torch

    from ._version import __version__

    dev = f"CUDA: {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else "CPU (no CUDA GPU found)"
    names = " · ".join(f"**{k}** {v}" for k, v in {"restoration": __version__, "torch": torch.__version__,
                                                     **versions}.items())
    rows = "\n".join(f"| `{s.id}` | {s.task} | x{s.scale} | {AVAILABLE[availability(s.id)]} | {s.license} | "
                     f"{s.source} |" for s in list_models())
    return (f"**Device:** {dev} · {names}\n\n| model | task | scale | here? | license | source |\n"
            f"|---|---|---|---|---|---|\n{rows}\n\nA model that is not on this server downloads from the Hugging "
            "Face Hub the first time a job needs it, and stays cached.")
