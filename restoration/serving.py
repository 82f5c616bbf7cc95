"""What a server does for its visitors around a job, whatever its web framework: their options, the
words of an error, the last failure of each visitor, and what the server offers (its models, and
which of them are here). The job itself runs beside the request: ``restoration.background``.

``app.py`` adapts these to Gradio's widgets and events; nothing here imports Gradio.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

from . import config, uploads
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


# --- visitors and the models they bring -------------------------------------------------------------
# Who is asking: set by the server for each request (``visitor_scope``): "user:<name>" for a signed-in
# Hugging Face user, "session:<id>" for a browser tab's or a client's session; None for a program
# that uses the library directly (it sees every model).
_held: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar("held", default=None)


def visitor_key(user: str | None, session: str | None) -> str | None:
    """Who a request comes from: a signed-in Hugging Face user (OAuth) by name, else its session (a
    browser tab's, or a ``gradio_client`` client's); None when neither is known."""
    return f"user:{user}" if user else f"session:{session}" if session else None


USER_MODELS_NOTE = {
    "off": "Adding models is turned off on this server: the menus offer its own models.",
    "own": "A model you add here is yours: nobody else sees, uses or removes it, and it goes with your "
           "results (or when this server needs the room for newer ones).",
    "shared": "Models added here are shared: everyone using this server sees, uses and may remove them.",
}


def forget_sessions() -> None:
    """A server's start: the sessions of its earlier run are gone, and (``own``) the models only they had."""
    if user_models() == "own":
        uploads.expire(sessions=True)


def user_models() -> str:
    """``RESTORATION_USER_MODELS``: "off", "own" or "shared"."""
    return config.get("RESTORATION_USER_MODELS")


def _owner_of(visitor: str | None) -> str:
    """Whose the files a visitor brings are: their own (``own``), or everyone's (``shared``)."""
    return uploads.EVERYONE if user_models() == "shared" else (visitor or "session:anonymous")


def _seen_by(visitor: str | None) -> str | None:
    """Whose added models a visitor sees: theirs and everyone's (``own``), every one (``shared``), only
    everyone's (``off``)."""
    return {"own": visitor or "session:anonymous", "shared": None, "off": uploads.EVERYONE}[user_models()]


def _until() -> float:
    return time.time() + config.get("RESTORATION_OUTPUT_TTL")


@contextlib.contextmanager
def visitor_scope(visitor: str | None) -> Iterator[None]:
    """Serve one request of ``visitor``: their names in records and lists (``uploads.current_owner``),
    and the files their job uses kept from eviction until the request ends."""
    # A server may run the steps of one request in different contexts (Gradio: each step of a streaming
    # endpoint in a copy): the values are set, not reset, and what is held is released from here.
    held: list[str] = []
    uploads.current_owner.set(visitor)
    _held.set(held)
    try:
        yield
    finally:
        uploads.release(held)


def visitor_options(given: dict[str, Any]) -> RestoreOptions:
    """``build_options`` for the current visitor: the preset (``given["preset"]``), then the options
    given (None: not given). A visitor may not name the server's files by path, nor a model another
    visitor added (it is as unknown to them as a name that does not exist); an ``hf:`` file is fetched
    now, within the room visitors' files have (``RESTORATION_USER_MODELS_MB``), unless models from
    visitors are off. What the app writes is PNG unless a format is given. Raises ``OptionError`` and
    ``WeightsUnavailableError`` (an ``hf:`` file that cannot be fetched)."""
    visitor = uploads.current_owner.get()
    for name in MENU_OPTIONS:
        value = given.get(name)
        check_not_a_path(value, name)
        if isinstance(value, str) and value.startswith("hf:"):
            _fetch_for_visitor(name, value, visitor)
        elif isinstance(value, str) and uploads.is_added(value):
            if not uploads.owns(value, _seen_by(visitor)):
                raise OptionError(f"{name}: {value}: no such model file")
            _hold([value])  # in use until the request ends: never evicted under its job
            uploads.touch([value], visitor, None if user_models() == "shared" else _until())
    opts = build_options(given.get("preset"), **{k: v for k, v in given.items() if k in IMAGE_OPTIONS})
    return opts if opts.output_format else opts.with_(output_format="png")


def _fetch_for_visitor(option: str, ref: str, visitor: str | None) -> None:
    """Fetch the Hub file ``ref`` for the current request (off: refused), within the visitors' room."""
    from .weights import cached, hub_file_size, resolve

    if user_models() == "off":
        raise OptionError(f"{option}={ref!r}: models from the Hub are turned off on this server; choose one of the "
                          "menu's models")
    budget = config.get("RESTORATION_USER_MODELS_MB") << 20
    uploads.expire()
    if cached(ref) is None:
        size = hub_file_size(ref)
        if size is not None and size > budget:
            raise OptionError(f"{option}={ref!r} is {size / 2**20:,.0f} MB, more than this server keeps for the "
                              f"models visitors bring ({budget >> 20:,} MB); nothing was downloaded")
        uploads.make_room(size or 0, budget)
    _hold([ref])
    try:
        path = resolve(ref).path
    except (WeightsUnavailableError, ChecksumMismatchError) as e:
        e.option, e.model = option, ref  # the visitor reads which setting does without it
        raise
    uploads.record_hub_file(ref, path, _owner_of(visitor), None if user_models() == "shared" else _until())


def _hold(names: list[str]) -> None:
    """Keep ``names`` from eviction until the current request ends."""
    held = _held.get()
    if held is not None:
        uploads.hold(names)
        held.extend(names)


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
    """Add the uploaded model ``file`` (at most ``max_mb`` MB) for the current visitor (see
    ``RESTORATION_USER_MODELS``), making room among visitors' files; see ``uploads.add_model``.
    Raises ``RestorationError`` when none was given or adding is off, and what it raises."""
    from pathlib import Path

    if user_models() == "off":
        raise RestorationError("Adding models is turned off on this server: use the models of the menus.")
    if not file:
        raise RestorationError("No model file given: upload a .safetensors, .pth or .ckpt file first.")
    size, budget = Path(file).stat().st_size, config.get("RESTORATION_USER_MODELS_MB") << 20
    if size > budget:
        raise RestorationError(f"{Path(file).name} is {size / 2**20:,.0f} MB, more than this server keeps for the "
                               f"models visitors bring ({budget >> 20:,} MB)")
    uploads.expire()
    uploads.make_room(size, budget)
    shared = user_models() == "shared"
    return uploads.add_model(Path(file), Path(file).name, max_bytes=max_mb << 20,
                             owner=_owner_of(uploads.current_owner.get()), until=None if shared else _until())


def remove_model(name: str | None) -> list[dict[str, Any]]:
    """The current visitor no longer has the added model ``name`` (``shared``: nobody has it);
    returns the models they still have. Raises ``OptionError`` for a name they do not have."""
    if user_models() == "off":
        raise RestorationError("Adding and removing models is turned off on this server.")
    visitor = uploads.current_owner.get()
    uploads.remove_model(str(name or ""), None if user_models() == "shared" else _owner_of(visitor))
    return added_models()


def added_models() -> list[dict[str, Any]]:
    """The added models the current visitor sees, by their own file names."""
    uploads.expire()
    return uploads.list_added(_seen_by(uploads.current_owner.get()))


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


def menu_choices(task: str) -> list[tuple[str, str]]:
    """A model menu's (label, value) choices: "off" for faces or "nlm" for the denoiser, the
    catalogue's models of ``task`` (non-commercial ones labelled so), then the added ones."""
    first = {"face-restoration": [("off", "off")], "restoration": [("nlm", "nlm")]}.get(task, [])
    catalogue = [(s.label, s.id) for s in list_models(task)]
    added = [(f"{i['file']} ({i['architecture']} x{i['scale']}, added)", i["name"]) for i in added_models()
             if i["task"] == task]
    return [*first, *catalogue, *added]


def catalogue() -> list[dict[str, Any]]:
    """The catalogue, each model with ``available`` (here, downloaded on first use, or not
    available), then the models added to this server (``source`` "added")."""
    added = [{**info, "id": info["name"], "available": AVAILABLE["local"]} for info in added_models()]
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
