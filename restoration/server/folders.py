"""A server's folders for its requests: one fresh folder each, removed after a time; uploads
checked and gathered in under names that never collide; previews; a batch's results and report, zipped.
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..batch import BatchItem, unpack_images
from ..errors import RestorationError
from ..media import INPUT_EXTENSIONS, ImageData, read_image, write_image

PREVIEW_MAX_SIDE = 2048


def request_dir(root: Path, ttl_s: float, key: str | None = None) -> Path:
    """A folder under ``root`` for one request: a new, empty one, or with ``key`` (``request_key``)
    the same one for the same request, so asking again finds what an interrupted run finished.
    Folders in ``root`` not touched for ``ttl_s`` seconds (requests whose results have been kept long
    enough) are removed first."""
    root.mkdir(parents=True, exist_ok=True)
    now = time.time()
    for old in root.iterdir():
        try:
            if now - old.stat().st_mtime > ttl_s:
                shutil.rmtree(old, ignore_errors=True)
        except OSError:
            pass
    if key is not None:
        folder = root / f"job-{key}"
        folder.mkdir(exist_ok=True)
        os.utime(folder)  # its lifetime starts again
        return folder
    folder = root / uuid.uuid4().hex
    folder.mkdir()
    return folder


def result_file(root: Path, folder: str, name: str) -> Path | None:
    """The file ``name`` of the request folder ``folder`` under ``root``, or None: only a request's own
    folder name (``request_dir``'s) and a plain file name are taken, and the file must be there."""
    import re

    if not re.fullmatch(r"(job-)?[0-9a-f]{32}", folder) or Path(name).name != name or name.startswith("."):
        return None
    path = root / folder / name
    return path if path.is_file() else None


def request_key(files: list[Path], given: dict[str, Any]) -> str:
    """The same text for the same files (by content) and the same options."""
    import hashlib
    import json

    from ..weights import sha256_file

    text = json.dumps([[sha256_file(f) for f in files], sorted(given.items())], default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


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


def check_upload(path: str | None, what: str, limit_mb: int) -> Path:
    """The uploaded file ``path``, checked: given, there, and at most ``limit_mb`` MB. Raises
    ``RestorationError`` saying what to do."""
    if not path:
        raise RestorationError(f"No {what} given: upload one first.")
    p = Path(path)
    if not p.is_file():
        raise RestorationError(f"The uploaded {what} could not be found on the server; upload it again.")
    if p.stat().st_size > limit_mb << 20:
        raise RestorationError(f"{p.name} is larger than the {limit_mb} MB upload limit.")
    return p


def preview(pixels: Any, path: Path) -> str:
    """A WebP preview of ``pixels`` (H, W, 3+) float in [0, 1], at most ``PREVIEW_MAX_SIDE`` px a side."""
    import numpy as np

    from ..metrics import resize_to

    h, w = pixels.shape[:2]
    f = min(1.0, PREVIEW_MAX_SIDE / max(h, w))
    small = resize_to(pixels, (max(1, round(w * f)), max(1, round(h * f)))) if f < 1 else pixels
    write_image(ImageData(np.ascontiguousarray(small[..., :3])), path, output_format="webp", quality=90)
    return str(path)


def face_previews(crops: list[tuple[Any, Any]], folder: Path) -> list[tuple[str, str]]:
    """Each restored face before and after (``FaceReport.crops``: (3, 512, 512) tensors) as
    (preview, caption) pairs."""
    items = []
    for i, pair in enumerate(crops, 1):
        for label, t in zip(("before", "after"), pair):
            items.append((preview(t.permute(1, 2, 0).numpy(), folder / f"face{i}_{label}.webp"), f"face {i} {label}"))
    return items


class BatchRequest:
    """A visitor's batch in ``folder``: the uploads gathered into ``in`` (at most ``max_files``
    images, else ``RestorationError``), results into ``restored``; the report (restored with a preview
    each, failed, skipped, why it stopped) fills as files finish (``on_item`` is the job's)."""

    def __init__(self, uploads: list[Path], folder: Path, max_files: int) -> None:
        self.folder, self.inputs, self.outputs = folder, folder / "in", folder / "restored"
        shutil.rmtree(self.inputs, ignore_errors=True)  # a folder asked for again: the same names again
        gathered = gather_uploads(uploads, self.inputs)
        if gathered.images > max_files:
            raise RestorationError(f"{gathered.images} images is over the limit of {max_files} per batch; split it.")
        self.report: dict[str, Any] = {"restored": [], "failed": list(gathered.failed),
                                       "skipped": list(gathered.skipped)}
        self.gallery: list[tuple[str, str]] = []

    def on_item(self, item: BatchItem, index: int, total: int) -> None:
        rel = item.src.relative_to(self.inputs).as_posix()
        if item.status == "failed":
            self.report["failed"].append({"file": rel, "error": item.error})
            return
        pixels = read_image(item.dst).pixels
        metrics = item.metrics or {}  # none for a file an earlier, interrupted run of this batch finished
        self.report["restored"].append({"file": rel, "psnr": metrics.get("psnr"),
                                        "size_out": metrics.get("size_out", [pixels.shape[1], pixels.shape[0]])})
        self.gallery.append((preview(pixels, self.folder / f"preview_{index}.webp"), rel))

    def stopped(self, e: BaseException, why: str) -> bool:
        """Whether the batch, stopped part-way by ``e``, still delivers (some files are done and it
        was not cancelled); if so ``why`` goes into the report."""
        from ..errors import Cancelled

        if not self.report["restored"] or isinstance(e, Cancelled) or not isinstance(e, RestorationError):
            return False
        self.report["stopped"] = why
        return True

    def finish(self) -> Path | None:
        """The zip of the results, with the report beside them as a table people read (``report.md``),
        one a spreadsheet opens (``report.csv``) and the data (``report.json``); None when nothing was
        restored (the folder is then removed)."""
        shutil.rmtree(self.inputs, ignore_errors=True)
        if not self.report["restored"]:
            shutil.rmtree(self.folder, ignore_errors=True)
            return None
        write_report(self.report, self.outputs)
        return zip_folder(self.outputs, self.folder / "restored.zip")


REPORT_HEAD = ("file", "result", "size", "note")


def write_report(report: dict[str, Any], folder: Path) -> None:
    """``report`` (a batch's) as ``report.md``, ``report.csv`` and ``report.json`` in ``folder``."""
    import csv
    import json

    from .words import batch_table

    rows = batch_table(report)
    counts = {k: len(report.get(k) or []) for k in ("restored", "failed", "skipped")}
    summary = (f"{counts['restored']} restored, {counts['failed']} not done, {counts['skipped']} skipped"
               + (f"; stopped: {report['stopped']}" if report.get("stopped") else ""))
    cell = lambda s: str(s).replace("|", "\\|").replace("\n", " ")  # noqa: E731
    md = [f"# Batch report\n\n{summary}\n", "| " + " | ".join(REPORT_HEAD) + " |", "|---|---|---|---|",
          *("| " + " | ".join(cell(c) for c in row) + " |" for row in rows)]
    (folder / "report.md").write_text("\n".join(md) + "\n", encoding="utf-8")
    with open(folder / "report.csv", "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([REPORT_HEAD, *rows])
    (folder / "report.json").write_text(json.dumps(report, indent=1, default=str), encoding="utf-8")
