"""Restoring a folder tree: recursive, structure kept, resumable, one bad file never stops the rest."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from . import config
from .errors import Cancelled, ChecksumMismatchError, ModelLoadError, RestorationError, WeightsUnavailableError
from .media import FORMAT_EXT, INPUT_EXTENSIONS
from .options import RestoreOptions
from .pipeline import ProgressFn, Restorer, prepare, restore_file

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
    returned as a "failed" item; the errors in ``FATAL`` (they would fail every file) are raised."""
    try:
        dst.parent.mkdir(parents=True, exist_ok=True)
        res = restore_file(src, dst, restorer, progress=progress)
        return BatchItem(src, dst, "done", metrics=res.metrics)
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


def restore_folder(
    in_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    options: RestoreOptions | Restorer | None = None,
    *,
    overwrite: bool = False,
    on_item: Callable[[BatchItem, int, int], None] | None = None,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
    ray: Any = None,
) -> BatchSummary:
    """Restore every image under ``in_dir`` into ``out_dir``.

    A destination that exists is skipped unless ``overwrite`` (outputs are written atomically, so an
    existing file is a finished one and a re-run resumes). A file that fails is recorded and the rest
    go on; errors that would fail every file (weights missing or corrupt: ``WeightsUnavailableError``,
    ``ChecksumMismatchError``, ``ModelLoadError``) stop the batch and are raised. The models are
    resolved and the tiles planned once for the whole batch. ``on_item(item, index, total)`` is called
    after each file; ``progress(fraction, message)`` also moves inside a file. Setting ``cancel``
    stops before the next file with ``Cancelled`` (the files done stay). ``ray`` runs the files on a
    Ray cluster instead of this process (see ``restoration.cluster.Cluster``: True or "" for an
    embedded local Ray or ``RAY_ADDRESS``, an address, or a ``Cluster``); the result is the same.
    Raises ``RestorationError`` when ``in_dir`` is not a folder or ``out_dir`` cannot be created.
    """
    if ray is not None and ray is not False:
        from .cluster.batch import restore_folder_on_ray

        return restore_folder_on_ray(in_dir, out_dir, options, cluster=ray, overwrite=overwrite, on_item=on_item,
                                     progress=progress, cancel=cancel)
    src_root, dst_root = Path(in_dir), Path(out_dir)
    check_folders(src_root, dst_root)
    restorer = prepare(options)
    restorer.check_models()  # a missing model fails now, not after the first file's work
    pairs = plan(src_root, dst_root, restorer.options.output_format)
    summary = BatchSummary()
    for i, (src, dst) in enumerate(pairs):
        if cancel is not None and cancel.is_set():
            raise Cancelled(f"{src_root}: cancelled after {i} of {len(pairs)} files; the files done are kept")
        if dst.exists() and not overwrite:
            item = BatchItem(src, dst, "skipped")
        else:
            item = restore_one(src, dst, restorer, _file_progress(progress, i, len(pairs), src.name))
        summary.items.append(item)
        if on_item:
            on_item(item, i, len(pairs))
        if progress:
            progress((i + 1) / len(pairs), f"{i + 1}/{len(pairs)} files")
    return summary


def _file_progress(progress: ProgressFn | None, index: int, total: int, name: str) -> ProgressFn | None:
    """The batch's ``progress`` while file ``index`` of ``total`` runs: "3/40 photo.jpg: superres 40%"."""
    if progress is None:
        return None
    return lambda f, message: progress((index + min(f, 0.999)) / total, f"{index + 1}/{total} {name}: {message}")


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


def restore_archive(
    archive: str | os.PathLike,
    out_dir: str | os.PathLike,
    options: RestoreOptions | Restorer | None = None,
    *,
    overwrite: bool = False,
    on_item: Callable[[BatchItem, int, int], None] | None = None,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
    ray: Any = None,
) -> BatchSummary:
    """Restore the images of a zip into ``out_dir``, keeping the archive's folders (see
    ``unpack_images`` for what is taken). Items are named ``ARCHIVE:path``; the unpacked copies are
    removed afterwards, whatever happens. Re-running resumes like ``restore_folder``. With ``ray``
    the images are unpacked into a hidden folder inside ``out_dir``, which every node reaches, rather
    than into this machine's temporary folder. Raises what ``unpack_images`` and ``restore_folder``
    raise."""
    import shutil
    import tempfile

    archive = Path(archive)
    if not archive.is_file():
        raise RestorationError(f"{archive}: no such file")
    on_cluster = ray is not None and ray is not False
    if on_cluster:
        check_folders(archive.parent, Path(out_dir))
    tmp = Path(tempfile.mkdtemp(prefix=".restoration-unpack-", dir=out_dir if on_cluster else None))
    try:
        _, skipped = unpack_images(archive, tmp)

        def relabel(item: BatchItem, index: int, total: int) -> None:
            item.src = Path(f"{archive.name}:{item.src.relative_to(tmp).as_posix()}")
            if on_item:
                on_item(item, index, total)

        summary = restore_folder(tmp, out_dir, options, overwrite=overwrite, on_item=relabel, progress=progress,
                                 cancel=cancel, ray=ray)
        summary.notes.extend(skipped)
        return summary
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
