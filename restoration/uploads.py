"""Models people add themselves: checked with spandrel, stored under their content hash, listed, removed.

A model file is stored as ``<sha256[:16]><ext>`` in the uploads folder (``RESTORATION_MODELS_DIR/uploads``,
else ``~/.cache/restoration/models``), with a ``.json`` beside it saying what it is. The same file
added twice is one model. Its stored name is how it is then given anywhere a model is accepted
(``restoration.refs`` looks bare names up here too), so a models folder on a volume keeps them
across restarts. Nothing is stored from a file that is refused.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from . import config
from .errors import OptionError
from .refs import check_suffix
from .weights import sha256_file


def store_dir() -> Path:
    """Where added models live (``config.added_models_dir``)."""
    return config.added_models_dir()


def _info_path(stored: Path) -> Path:
    return stored.with_suffix(".json")


def add_model(path: str | os.PathLike, name: str | None = None, *, max_bytes: int | None = None) -> dict[str, Any]:
    """Check ``path`` and store it; returns what it is (``name`` to use it by, the original ``file``
    name, architecture, scale, task, precision support, licence, size).

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
    info = {"name": stored.name, "file": original, "architecture": spec.architecture, "scale": spec.scale,
            "task": spec.task, "supports_half": spec.supports_half, "supports_bf16": spec.supports_bf16,
            "license": spec.license, "commercial_use": spec.commercial_use, "size_bytes": size, "sha256": digest,
            "source": "added"}
    stored.parent.mkdir(parents=True, exist_ok=True)
    if not stored.exists():
        part = stored.with_name(f".{stored.name}.part")
        shutil.copyfile(src, part)
        os.replace(part, stored)
    _info_path(stored).write_text(json.dumps(info, indent=1))
    return info


def list_added() -> list[dict[str, Any]]:
    """Every added model's description, by original file name."""
    folder = store_dir()
    found = []
    for meta in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            info = json.loads(meta.read_text())
        except (OSError, ValueError):
            continue
        if (folder / info.get("name", "")).is_file():
            found.append(info)
    return sorted(found, key=lambda i: i["file"].lower())


def original_name(name: str) -> str | None:
    """The file name an added model was added under (``name`` is its stored name), else None."""
    if not isinstance(name, str) or Path(name).name != name or not name:
        return None
    try:
        return json.loads(_info_path(store_dir() / name).read_text()).get("file")
    except (OSError, ValueError):
        return None


def remove_model(name: str) -> None:
    """Delete the added model stored as ``name``. Raises ``OptionError`` when there is none."""
    stored = store_dir() / Path(name).name
    if Path(name).name != name or not stored.is_file() or not _info_path(stored).is_file():
        raise OptionError(f"{name}: no added model of that name; see the list of models")
    stored.unlink()
    _info_path(stored).unlink(missing_ok=True)

