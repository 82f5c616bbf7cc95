"""Models people add themselves: checked with spandrel, stored under their content hash, owned, bounded.

A model file is stored as ``<sha256[:16]><ext>`` in the uploads folder (``RESTORATION_MODELS_DIR/uploads``,
else ``~/.cache/restoration/models``), with a ``.json`` beside it saying what it is and who may use it:
``owners`` maps each owner (a visitor's key, or ``"*"`` for everyone) to the file name they added it
under and until when they keep it. The same file added twice is one file with two owners, each seeing
only their own name. Its stored name is how it is then given anywhere a model is accepted
(``restoration.refs`` looks bare names up here too). Files fetched from the Hub for a visitor
(``hf:`` references) are recorded here too (``kind`` "hub"), so that every file visitors bring counts
against one budget: ``make_room`` evicts the least recently used ones, never a file a running job
uses (``using``). Who may do what is the server's policy (``restoration.server.visitors``); this module keeps
the books. Nothing is stored from a file that is refused.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import json
import os
import shutil
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from . import config
from .errors import OptionError
from .refs import check_suffix
from .weights import sha256_file

EVERYONE = "*"
# The owner whose names a record or a listing shows (set by a server for the request it serves).
current_owner: contextvars.ContextVar[str | None] = contextvars.ContextVar("current_owner", default=None)
_lock = threading.RLock()
_in_use: Counter[str] = Counter()


def store_dir() -> Path:
    """Where added models live (``config.added_models_dir``)."""
    return config.added_models_dir()


def _info_path(stored: Path) -> Path:
    return stored.with_suffix(".json")


def _read(meta: Path) -> dict[str, Any] | None:
    try:
        return json.loads(meta.read_text())
    except (OSError, ValueError):
        return None


def _write(meta: Path, info: dict[str, Any]) -> None:
    part = meta.with_name(f".{meta.name}.part")
    part.write_text(json.dumps(info, indent=1))
    os.replace(part, meta)


def _entries() -> list[tuple[Path, dict[str, Any]]]:
    folder = store_dir()
    found = []
    for meta in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        info = _read(meta)
        if info is not None and "owners" not in info:  # written before owners existed: everyone's
            info["owners"] = {EVERYONE: {"file": info.get("file", info.get("name")), "until": None}}
        if info is not None:
            found.append((meta, info))
    return found


def _file_of(meta: Path, info: dict[str, Any]) -> Path:
    return Path(info["path"]) if info.get("kind") == "hub" else meta.parent / info["name"]


def add_model(path: str | os.PathLike, name: str | None = None, *, max_bytes: int | None = None,
              owner: str = EVERYONE, until: float | None = None) -> dict[str, Any]:
    """Check ``path`` and store it for ``owner`` (until ``until``, a time; None: for good); returns
    what it is as ``owner`` sees it (``name`` to use it by, their ``file`` name, architecture, scale,
    task, precision support, licence, size).

    Raises ``OptionError`` for a file that is too large or not a weight file (``.pt`` TorchScript
    included), and ``ModelLoadError`` for one spandrel will not load or no stage can use.
    """
    from .models import load_descriptor, spec_for_file
    from .refs import ModelRef

    src = Path(path)
    original = name or src.name
    suffix = Path(original).suffix.lower()
    check_suffix(original, original)
    size = src.stat().st_size
    if max_bytes is not None and size > max_bytes:
        raise OptionError(f"{original} is {size / 2**20:.0f} MB, over the {max_bytes / 2**20:.0f} MB limit for "
                          "added models")
    digest = sha256_file(src)
    stored = store_dir() / f"{digest[:16]}{suffix}"
    with tempfile.TemporaryDirectory() as tmp:  # load a copy with the right suffix, store only if it loads
        probe = Path(tmp) / f"model{suffix}"
        shutil.copyfile(src, probe)
        desc = load_descriptor(probe, None)
        spec = spec_for_file(ModelRef("file", original, path=probe), desc)
    with _lock:
        info = _read(_info_path(stored)) if stored.exists() else None
        info = info or {"name": stored.name, "architecture": spec.architecture, "scale": spec.scale,
                        "task": spec.task, "supports_half": spec.supports_half, "supports_bf16": spec.supports_bf16,
                        # a file brought by someone: its licence is not known here, nor whether it allows
                        # commercial use (unless its architecture alone forbids it)
                        "license": spec.license, "commercial_use": False if not spec.commercial_use else None,
                        "size_bytes": size,
                        "sha256": digest, "source": "added", "owners": {}}
        info.setdefault("owners", {})[owner] = {"file": original, "until": until}
        info["used"] = time.time()
        stored.parent.mkdir(parents=True, exist_ok=True)
        if not stored.exists():
            part = stored.with_name(f".{stored.name}.part")
            shutil.copyfile(src, part)
            os.replace(part, stored)
        _write(_info_path(stored), info)
    return _as_seen(info, owner)


def _as_seen(info: dict[str, Any], owner: str | None) -> dict[str, Any]:
    """``info`` as ``owner`` sees it: their own file name, nothing of the other owners."""
    mine = info["owners"].get(owner) or info["owners"].get(EVERYONE) or next(iter(info["owners"].values()))
    seen = {k: v for k, v in info.items() if k not in ("owners", "used")}
    seen["file"] = mine["file"]
    return seen


def list_added(owner: str | None = None) -> list[dict[str, Any]]:
    """The added models ``owner`` may use (theirs and everyone's), by their file name; ``owner`` None:
    every one (a private server's shared list)."""
    found = []
    for meta, info in _entries():
        if info.get("kind") == "hub" or not (meta.parent / info.get("name", "")).is_file():
            continue
        if owner is None or owner in info["owners"] or EVERYONE in info["owners"]:
            found.append(_as_seen(info, owner))
    return sorted(found, key=lambda i: i["file"].lower())


def owns(name: str, owner: str | None) -> bool:
    """Whether ``owner`` (None: anyone) may use the added model or Hub file stored as ``name``."""
    with _lock:
        for _, info in _entries():
            if info.get("name") == name:
                return owner is None or owner in info["owners"] or EVERYONE in info["owners"]
    return False


def is_added(name: str) -> bool:
    """Whether ``name`` is the stored name of an added model (whoever owns it)."""
    if not isinstance(name, str) or not name or Path(name).name != name:
        return False
    return _info_path(store_dir() / name).is_file()


def original_name(name: str) -> str | None:
    """The file name an added model was added under, as the current owner (``current_owner``) knows
    it; None for a name that is not an added model, or one that owner has not added."""
    if not is_added(name):
        return None
    info = _read(_info_path(store_dir() / name)) or {}
    owners = info.get("owners") or {EVERYONE: {"file": info.get("file")}}
    entry = owners.get(current_owner.get() or EVERYONE) or owners.get(EVERYONE)
    return entry.get("file") if entry else None


def remove_model(name: str, owner: str | None = None) -> None:
    """``owner`` no longer has the added model stored as ``name`` (None: remove it for everyone); the
    file goes with its last owner. Raises ``OptionError`` when there is none that ``owner`` has."""
    with _lock:
        stored = store_dir() / Path(name).name
        info = _read(_info_path(stored)) if Path(name).name == name and stored.is_file() else None
        owners = (info or {}).get("owners") or {EVERYONE: {}}
        if info is None or (owner is not None and owner not in owners):
            raise OptionError(f"{name}: no added model of that name; see the list of models")
        info["owners"] = owners
        owners.pop(owner, None)
        if owner is None or not owners:
            stored.unlink(missing_ok=True)
            _info_path(stored).unlink(missing_ok=True)
        else:
            _write(_info_path(stored), info)


def record_hub_file(ref: str, path: Path, owner: str, until: float | None) -> None:
    """Count the Hub file ``path`` (fetched for ``ref``) as one ``owner`` brought."""
    meta = store_dir() / f"hub-{hashlib.sha256(ref.encode()).hexdigest()[:16]}.json"
    with _lock:
        info = _read(meta) or {"name": ref, "kind": "hub", "path": str(path), "owners": {}}
        info["size_bytes"] = path.stat().st_size if path.is_file() else 0
        info["owners"][owner] = {"file": ref, "until": until}
        info["used"] = time.time()
        meta.parent.mkdir(parents=True, exist_ok=True)
        _write(meta, info)


def touch(names: list[str], owner: str | None = None, until: float | None = None) -> None:
    """``names`` were used now (least recently used files go first); ``owner`` keeps them until ``until``."""
    with _lock:
        for meta, info in _entries():
            if info.get("name") in names:
                info["used"] = time.time()
                if owner in info["owners"] and until is not None:
                    info["owners"][owner]["until"] = until
                _write(meta, info)


def hold(names: list[str]) -> None:
    """``names`` are in use (by a running job) until ``release``: never evicted."""
    with _lock:
        _in_use.update(names)


def release(names: list[str]) -> None:
    with _lock:
        _in_use.subtract(names)
        for n in [n for n, c in _in_use.items() if c <= 0]:
            del _in_use[n]


@contextlib.contextmanager
def using(names: list[str]) -> Iterator[None]:
    """While the block runs, ``names`` are in use: never evicted."""
    hold(names)
    try:
        yield
    finally:
        release(names)


def _delete(meta: Path, info: dict[str, Any]) -> None:
    if info.get("kind") == "hub":
        from .weights import forget

        forget(Path(info["path"]))
    else:
        (meta.parent / info["name"]).unlink(missing_ok=True)
    meta.unlink(missing_ok=True)


def total_bytes() -> int:
    """Bytes of the files visitors brought (added models and Hub files)."""
    return sum(int(info.get("size_bytes") or 0) for meta, info in _entries() if _file_of(meta, info).exists())


def make_room(need: int, budget: int) -> list[str]:
    """Evict visitors' files, least recently used first, until ``need`` more bytes fit in ``budget``;
    never one in use. Returns the names evicted."""
    evicted = []
    with _lock:
        entries = [(m, i) for m, i in _entries() if i.get("name") not in _in_use]
        used = total_bytes()
        for meta, info in sorted(entries, key=lambda e: e[1].get("used", 0)):
            if used + need <= budget:
                break
            used -= int(info.get("size_bytes") or 0)
            _delete(meta, info)
            evicted.append(info["name"])
    return evicted


def expire(now: float | None = None, sessions: bool = False) -> None:
    """Owners whose time is up (and with ``sessions``, every browser or client session: they do not
    outlive a restart) lose their files; a file without owners is removed, unless it is in use."""
    now = time.time() if now is None else now
    with _lock:
        for meta, info in _entries():
            owners = info["owners"]
            gone = [k for k, v in owners.items() if k != EVERYONE and ((v.get("until") or now + 1) < now
                                                                      or (sessions and k.startswith("session:")))]
            if not gone:
                continue
            for key in gone:
                owners.pop(key)
            if not owners and info.get("name") not in _in_use:
                _delete(meta, info)
            else:
                _write(meta, info)
