"""Who is asking, and with which models: a visitor's options, the models they add, remove and see.

A visitor is a signed-in Hugging Face user, else a session (a browser tab, or one ``gradio_client``
client). Who sees which added model is ``RESTORATION_USER_MODELS``: ``own`` (each visitor theirs),
``shared`` (everyone everyone's) or ``off`` (nobody adds any). ``restoration.uploads`` keeps the
books (files, owners, room); this module applies the server's policy to them.
"""

from __future__ import annotations

import contextlib
import contextvars
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .. import config, uploads
from ..catalog import MODEL_OPTIONS
from ..errors import ChecksumMismatchError, OptionError, RestorationError, WeightsUnavailableError
from ..options import IMAGE_FIELDS, RestoreOptions, build_options
from ..refs import check_not_a_path

IMAGE_OPTIONS = {f.name for f in IMAGE_FIELDS}
CUSTOM = "custom"  # the preset menu's word once its settings are changed: no preset, every option given
MENU_OPTIONS = {o: t for o, t in MODEL_OPTIONS.items() if o != "color_model"}  # menus that take files too
# The files the current request holds (kept from eviction until it ends); set by ``visitor_scope``.
_held: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar("held", default=None)

USER_MODELS_NOTE = {
    "off": "Adding models is turned off on this server: the menus offer its own models.",
    "own": "A model you add here is yours: nobody else sees, uses or removes it, and it goes with your "
           "results (or when this server needs the room for newer ones).",
    "shared": "Models added here are shared: everyone using this server sees, uses and may remove them.",
}


def visitor_key(user: str | None, session: str | None) -> str | None:
    """Who a request comes from: a signed-in Hugging Face user (OAuth) by name, else its session (a
    browser tab's, or a ``gradio_client`` client's); None when neither is known."""
    return f"user:{user}" if user else f"session:{session}" if session else None


def user_models() -> str:
    """``RESTORATION_USER_MODELS``: "off", "own" or "shared"."""
    return config.get("RESTORATION_USER_MODELS")


def forget_sessions() -> None:
    """A server's start: the sessions of its earlier run are gone, and (``own``) the models only they had."""
    if user_models() == "own":
        uploads.expire(sessions=True)


def _owner_of(visitor: str | None) -> str:
    """Whose the files a visitor brings are: their own (``own``), or everyone's (``shared``)."""
    return uploads.EVERYONE if user_models() == "shared" else (visitor or "session:anonymous")


def _seen_by(visitor: str | None) -> str | None:
    """Whose added models a visitor sees: theirs and everyone's (``own``), every one (``shared``), only
    everyone's (``off``)."""
    return {"own": visitor or "session:anonymous", "shared": None, "off": uploads.EVERYONE}[user_models()]


def _until() -> float | None:
    """How long the current visitor keeps what they bring (``shared``: for good)."""
    return None if user_models() == "shared" else time.time() + config.get("RESTORATION_OUTPUT_TTL")


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
    """``build_options`` for the current visitor: the preset (``given["preset"]``; "custom" is none),
    then the options given (None: not given); ``catalogue.visitor_job`` adds the stand-ins for models
    this server lacks. A visitor names the models they added by their own file names; they may not
    name the server's files by path, nor a model another visitor added (it is as unknown to them as a
    name that does not exist); an ``hf:`` file is fetched now, within the room visitors' files have
    (``RESTORATION_USER_MODELS_MB``), unless models from visitors are off. What a server writes is PNG
    unless a format is given. Raises ``OptionError`` and ``WeightsUnavailableError`` (an ``hf:`` file
    that cannot be fetched)."""
    visitor, given = uploads.current_owner.get(), dict(given)
    mine = {i["file"]: i["stored"] for i in _added()}
    for name in MENU_OPTIONS:
        value = given.get(name)
        check_not_a_path(value, name)
        if isinstance(value, str) and value in mine:
            given[name] = value = mine[value]
        if isinstance(value, str) and value.startswith("hf:"):
            _fetch_for_visitor(name, value, visitor)
        elif isinstance(value, str) and uploads.is_added(value):
            if not uploads.owns(value, _seen_by(visitor)):
                raise OptionError(f"{name}: {value}: no such model file")
            _hold([value])  # in use until the request ends: never evicted under its job
            uploads.touch([value], visitor, _until())
    preset = given.get("preset")
    opts = build_options(None if preset == CUSTOM else preset, **{k: v for k, v in given.items() if k in IMAGE_OPTIONS})
    return opts if opts.output_format else opts.with_(output_format="png")


def _fetch_for_visitor(option: str, ref: str, visitor: str | None) -> None:
    """Fetch the Hub file ``ref`` for the current request (off: refused), within the visitors' room."""
    from ..weights import cached, hub_file_size, resolve

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
    uploads.record_hub_file(ref, path, _owner_of(visitor), _until())


def _hold(names: list[str]) -> None:
    """Keep ``names`` from eviction until the current request ends."""
    held = _held.get()
    if held is not None:
        uploads.hold(names)
        held.extend(names)


def add_model(file: str | None, max_mb: int) -> dict[str, Any]:
    """Add the uploaded model ``file`` (at most ``max_mb`` MB) for the current visitor (see
    ``RESTORATION_USER_MODELS``), making room among visitors' files; see ``uploads.add_model``. The
    visitor knows it by its file name; an earlier model of theirs of that name is replaced. Returns
    what it is, as they see it (``name``: its file name, to give as a model). Raises
    ``RestorationError`` when none was given or adding is off, and what ``uploads.add_model`` raises."""
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
    owner = _owner_of(uploads.current_owner.get())
    info = uploads.add_model(Path(file), Path(file).name, max_bytes=max_mb << 20, owner=owner, until=_until())
    for old in _added():  # the same name for another file of theirs: the new one replaces it
        if old["file"] == info["file"] and old["stored"] != info["name"]:
            uploads.remove_model(old["stored"], owner)
    return _public(info)


def remove_model(name: str | None) -> list[dict[str, Any]]:
    """The current visitor no longer has the added model ``name`` (their file name for it; ``shared``:
    nobody has it); returns the models they still have. Raises ``OptionError`` for a name they do not
    have."""
    if user_models() == "off":
        raise RestorationError("Adding and removing models is turned off on this server.")
    visitor = uploads.current_owner.get()
    stored = {i["file"]: i["stored"] for i in _added()}.get(str(name or ""), str(name or ""))
    uploads.remove_model(stored, None if user_models() == "shared" else _owner_of(visitor))
    return added_models()


def added_models() -> list[dict[str, Any]]:
    """The added models the current visitor sees, by their own file names (``name``)."""
    return [_public(i) for i in _added()]


def _added() -> list[dict[str, Any]]:
    """The added models the current visitor sees: uploads' records, with ``stored`` the stored name."""
    uploads.expire()
    return [{**i, "stored": i["name"]} for i in uploads.list_added(_seen_by(uploads.current_owner.get()))]


def _public(info: dict[str, Any]) -> dict[str, Any]:
    """An added model as its visitor sees it: by their file name, without the stored name or the hash."""
    shown = {k: v for k, v in info.items() if k not in ("name", "stored", "sha256")}
    return {"name": info["file"], **shown}
