"""The files of a batch: finding and planning them, restoring one, unpacking a zip safely.

A batch job (``restoration.jobs.restore_folder``) plans its files here, in the folder tree's order and
structure, and each executor restores them one at a time with ``restore_one``; one bad file never
stops the rest.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from . import config
from .errors import ChecksumMismatchError, ModelLoadError, RestorationError, WeightsUnavailableError
from .media import FORMAT_EXT, INPUT_EXTENSIONS
from .pipeline import Restorer, restore_file
from .progress import ProgressFn

log = logging.getLogger(__name__)

Status = Literal["done", "skipped", "failed"]
# Errors that would fail every file the same way: the batch stops instead of repeating them.
FATAL = (WeightsUnavailableError, ChecksumMismatchError, ModelLoadError)


@dataclass
class BatchItem:
    src: Path
    dst: Path
    status: Status
    error: str | None = None
    metrics: dict[str, Any] | None = None


@dataclass
class BatchSummary:
    items: list[BatchItem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # archive entries skipped, with the reason

    def count(self, status: Status) -> int:
        return sum(1 for i in self.items if i.status == status)

    @property
    def ok(self) -> bool:
        return self.count("failed") == 0

    def line(self) -> str:
        return (
            f"{len(self.items)} files: {self.count('done')} restored, "
            f"{self.count('skipped')} already done, {self.count('failed')} failed"
        )


def find_images(in_dir: Path, exclude: Path | None = None) -> list[Path]:
    """Image files under ``in_dir`` (recursive, sorted), skipping hidden ones and ``exclude``."""
    found = []
    excl = exclude.resolve() if exclude else None
    for root, dirs, files in os.walk(in_dir):
        rp = Path(root)
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and (rp / d).resolve() != excl)
        for f in sorted(files):
            if not f.startswith(".") and Path(f).suffix.lower() in INPUT_EXTENSIONS:
                found.append(rp / f)
    return found


def plan(in_dir: Path, out_dir: Path, output_format: str | None) -> list[tuple[Path, Path]]:
    """(source, destination) pairs: the same relative path under ``out_dir``, new suffix if asked."""
    pairs = []
    for src in find_images(in_dir, exclude=out_dir):
        rel = src.relative_to(in_dir)
        dst = out_dir / rel
        if output_format:
            dst = dst.with_suffix(FORMAT_EXT[output_format])
        pairs.append((src, dst))
    return pairs


def restore_one(src: Path, dst: Path, restorer: Restorer, progress: ProgressFn | None = None) -> BatchItem:
    """Restore one file of a batch into ``dst`` (written atomically). A failure of this file is
    returned as a "failed" item (a model only this picture needs, such as the colorizer of a black
    and white one, counts as this file's); the errors in ``FATAL`` (they would fail every file) are
    raised."""
    try:
        dst.parent.mkdir(parents=True, exist_ok=True)
        res = restore_file(src, dst, restorer, progress=progress)
        return BatchItem(src, dst, "done", metrics=res.metrics)
    except (WeightsUnavailableError, ChecksumMismatchError) as e:
        if e.option != "color_model":
            raise
        log.warning("%s needs the colorizer %s: %s", src, e.model, e)
        return BatchItem(src, dst, "failed", error=f"black and white, and the colorizer {e.model} is not available "
                                                   "here: restore it with Colorize off to keep it black and white")
    except FATAL:
        raise
    except (RestorationError, OSError, ValueError, RuntimeError) as e:
        log.warning("%s failed: %s", src, e)
        return BatchItem(src, dst, "failed", error=str(e))


def check_folders(in_dir: Path, out_dir: Path) -> None:
    """Refuse, before any work, an input that is not a folder or an output folder that cannot be made."""
    if not in_dir.is_dir():
        raise RestorationError(f"{in_dir}: not a folder" if in_dir.exists() else f"{in_dir}: no such folder")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise RestorationError(f"{out_dir}: cannot create the output folder ({e})") from e


# ------------------------------------------------------------------------------- uploaded archives
MAX_ARCHIVE_ENTRIES = 20_000  # entries of any kind looked at
_ARCHIVES = (".zip", ".rar", ".7z", ".tar", ".gz", ".tgz", ".bz2", ".xz")


def unpack_images(
    archive: str | os.PathLike,
    dest: str | os.PathLike,
    *,
    max_files: int | None = None,
    max_bytes: int | None = None,
) -> tuple[list[Path], list[str]]:
    """Extract the images of a zip into ``dest`` safely; returns (files, skipped-with-reason).

    Only regular files with an image extension are taken. Names are rebuilt from their parts, so
    absolute paths and ``..`` cannot escape ``dest`` (zip slip); symbolic links and nested archives
    are skipped; the number of files and the total uncompressed size are capped while reading, not
    from the (forgeable) header, so a zip bomb stops at the cap. When the archive is refused as a
    whole, what was already extracted is removed again.
    Raises ``RestorationError`` naming the archive when it is
    not a readable zip, has too many entries or images, or unpacks past the size cap.
    """
    import stat
    import zipfile

    max_files = max_files or config.get("RESTORATION_MAX_ARCHIVE_FILES")
    max_bytes = max_bytes or config.get("RESTORATION_MAX_ARCHIVE_MB") << 20
    dest_root = Path(dest)
    name = Path(archive).name
    files: list[Path] = []
    skipped: list[str] = []
    total = 0
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as e:
        raise RestorationError(f"{name}: not a readable zip archive ({e})") from None
    try:
        with zf:
            infos = zf.infolist()
            if len(infos) > MAX_ARCHIVE_ENTRIES:
                raise RestorationError(f"{name}: {len(infos):,} entries is more than {MAX_ARCHIVE_ENTRIES:,}; "
                                       "split the archive")
            for info in infos:
                total = _extract_one(zf, info, name, dest_root, files, skipped, total, max_files, max_bytes,
                                     stat.S_ISLNK(info.external_attr >> 16))
    except RestorationError:
        for f in files:
            f.unlink(missing_ok=True)
        raise
    return files, skipped


def _extract_one(zf, info, name: str, dest_root: Path, files: list[Path], skipped: list[str], total: int,
                 max_files: int, max_bytes: int, is_link: bool) -> int:
    """Extract one entry if it is an image (see ``unpack_images``); returns the bytes read so far."""
    import zipfile

    if info.is_dir():
        return total
    parts = [p for p in info.filename.replace("\\", "/").split("/") if p not in ("", ".", "..")]
    label = f"{name}:{info.filename}"
    if not parts or is_link:
        skipped.append(f"{label}: skipped (link or empty name)")
        return total
    suffix = Path(parts[-1]).suffix.lower()
    if suffix in _ARCHIVES:
        skipped.append(f"{label}: skipped (archives inside archives are not opened; add its images directly)")
        return total
    if suffix not in INPUT_EXTENSIONS or parts[-1].startswith("."):
        skipped.append(f"{label}: skipped (not an image)")
        return total
    if len(files) >= max_files:
        raise RestorationError(f"{name}: more than {max_files} images; split the archive")
    target = dest_root.joinpath(*parts)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        with zf.open(info) as src, open(target, "wb") as out:
            while chunk := src.read(1 << 20):
                total += len(chunk)
                if total > max_bytes:
                    raise RestorationError(
                        f"{name}: uncompressed size exceeds {max_bytes >> 20} MiB; split the archive"
                    )
                out.write(chunk)
    except RestorationError:
        target.unlink(missing_ok=True)
        raise
    except (zipfile.BadZipFile, OSError, RuntimeError, EOFError) as e:  # corrupt, encrypted member
        target.unlink(missing_ok=True)
        skipped.append(f"{label}: unreadable ({e})")
        return total
    files.append(target)
    return total
