"""A server's folders for its requests: one fresh folder each, removed after a time; uploads
gathered in under names that never collide; results zipped.

What a web app (``app.py``) or any other server built on the library does around a batch or a video
job, kept out of the web layer so every server does it the same way.
"""

from __future__ import annotations

import shutil
import time
import uuid
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .batch import unpack_images
from .errors import RestorationError
from .media import INPUT_EXTENSIONS


def request_dir(root: Path, ttl_s: float) -> Path:
    """A new, empty folder under ``root`` for one request; folders in ``root`` older than ``ttl_s``
    seconds (finished requests whose results have been kept long enough) are removed first."""
    root.mkdir(parents=True, exist_ok=True)
    now = time.time()
    for old in root.iterdir():
        try:
            if now - old.stat().st_mtime > ttl_s:
                shutil.rmtree(old, ignore_errors=True)
        except OSError:
            pass
    folder = root / uuid.uuid4().hex
    folder.mkdir()
    return folder


def free_name(path: Path) -> Path:
    """``path``, or ``name (2).ext``, ``name (3).ext``... when a file of that name is already there."""
    n, candidate = 2, path
    while candidate.exists():
        candidate = path.with_name(f"{path.stem} ({n}){path.suffix}")
        n += 1
    return candidate


@dataclass
class Gathered:
    """What ``gather_uploads`` took: ``images`` copied in, ``skipped`` (with why), zips that ``failed``."""

    images: int = 0
    skipped: list[str] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)


def gather_uploads(uploads: list[Path], folder: Path) -> Gathered:
    """Copy uploaded images into ``folder``, and unpack uploaded zips into a folder named after each
    (``unpack_images``: only images, safely). Two uploads of one name are both kept (``free_name``).
    Anything else is skipped with the reason."""
    folder.mkdir(parents=True, exist_ok=True)
    got = Gathered()
    for p in uploads:
        suffix = p.suffix.lower()
        if suffix == ".zip":
            try:
                images, skipped = unpack_images(p, free_name(folder / p.stem))
            except RestorationError as e:
                got.failed.append({"file": p.name, "error": str(e)})
                continue
            got.skipped.extend(skipped)
            got.images += len(images)
        elif suffix in INPUT_EXTENSIONS:
            shutil.copyfile(p, free_name(folder / p.name))
            got.images += 1
        else:
            got.skipped.append(f"{p.name}: skipped (not an image or zip)")
    return got


def zip_folder(folder: Path, archive: Path) -> Path:
    """Every file under ``folder`` into the zip ``archive`` (stored: pictures do not compress),
    paths relative to ``folder``. Returns ``archive``."""
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as zf:
        for f in sorted(folder.rglob("*")):
            if f.is_file():
                zf.write(f, f.relative_to(folder).as_posix())
    return archive
