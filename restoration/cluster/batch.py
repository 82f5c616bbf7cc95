"""A folder of images on Ray Data: one actor per worker holds the models, files stream through it.

The driver plans the job exactly as the local batch does (same destinations, same skipping of
finished outputs) and checks that every node reaches the folders; Ray Data then runs each pending
file on an actor (``_FileWorker``), which restores it with the local ``restore_one`` and writes the
output where the local path would, atomically. Ray restarts an actor that dies and retries the
files it held (a file is its own block up to ``MAX_BLOCKS`` files, so little is redone; the
output is replaced atomically, so a redone file is never half written nor listed twice). Rows come back as
they finish: the driver turns them into the same ``BatchItem``\\ s, progress and summary.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..batch import FATAL, BatchItem, BatchSummary, check_folders, plan, restore_one
from ..errors import Cancelled, RestorationError
from ..options import RestoreOptions
from . import Cluster, as_cluster
from .connect import check_reachable, job_runtime_env, set_threads, workers_for

log = logging.getLogger(__name__)
MAX_BLOCKS = 4096  # files are grouped into at most this many Ray Data blocks (the unit of a retry)


class _FileWorker:
    """A Ray Data actor: the job's ``Restorer`` built once, then one file per row."""

    def __init__(self, options: RestoreOptions, threads: int) -> None:
        from ..pipeline import prepare

        set_threads(threads)
        self.restorer = prepare(options)
        self.where = f"{socket.gethostname()}:{os.getpid()}"

    def __call__(self, rows: dict[str, Any]) -> dict[str, list]:
        out: dict[str, list] = {k: [] for k in ("index", "status", "error", "metrics", "worker", "fatal")}
        for index, src, dst in zip(rows["index"], rows["src"], rows["dst"]):
            src, dst = Path(str(src)), Path(str(dst))
            fatal = ""
            try:
                item = restore_one(src, dst, self.restorer)
            except FATAL as e:
                item, fatal = BatchItem(src, dst, "failed", error=str(e)), type(e).__name__
            out["index"].append(int(index))
            out["status"].append(item.status)
            out["error"].append(item.error or "")
            out["metrics"].append(json.dumps(item.metrics, default=str) if item.metrics else "")
            out["worker"].append(self.where)
            out["fatal"].append(fatal)
        return out


def _quiet_ray_data() -> None:
    from ray.data import DataContext

    logging.getLogger("ray.data").setLevel(logging.ERROR)  # our progress replaces Ray Data's bars and notes
    ctx = DataContext.get_current()
    ctx.enable_progress_bars = False
    ctx.print_on_execution_start = False


def restore_folder_on_ray(
    in_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    options: RestoreOptions | Any = None,
    *,
    cluster: Cluster | str | bool = True,
    overwrite: bool = False,
    on_item: Callable[[BatchItem, int, int], None] | None = None,
    progress: Callable[[float, str], None] | None = None,
    cancel: threading.Event | None = None,
) -> BatchSummary:
    """``restore_folder`` on Ray (see there for what is skipped, listed and raised). Items are
    reported in the order they finish (``progress`` moves per file); the summary lists them in the
    local order. Raises ``RestorationError`` when a node cannot reach the folders, the weight errors
    that stop a local batch (re-raised from the worker), and ``Cancelled`` when ``cancel`` is set."""
    from ..pipeline import Restorer, prepare

    cluster = as_cluster(cluster)
    options = options.options if isinstance(options, Restorer) else (options or RestoreOptions())
    src_root, dst_root = Path(in_dir), Path(out_dir)
    check_folders(src_root, dst_root)
    prepare(options).check_models()  # a missing model fails here, before any worker starts
    pairs = plan(src_root, dst_root, options.output_format)
    summary = BatchSummary()
    items: dict[int, BatchItem] = {}
    done = 0

    def report(i: int, item: BatchItem) -> None:
        nonlocal done
        items[i] = item
        if on_item:
            on_item(item, done, len(pairs))
        done += 1
        if progress:
            progress(done / len(pairs), f"{done}/{len(pairs)} files")

    pending = []
    for i, (src, dst) in enumerate(pairs):
        if dst.exists() and not overwrite:
            report(i, BatchItem(src, dst, "skipped"))
        else:
            pending.append({"index": i, "src": str(src.resolve()), "dst": str(dst.resolve())})
    if pending:
        ray, workers = workers_for(cluster, options.device)
        check_reachable(ray, {"input": src_root, "output": dst_root})
        _quiet_ray_data()
        log.info("batch of %d files on %s", len(pending), workers.describe())
        pool = ray.data.ActorPoolStrategy(size=min(workers.count, len(pending)))
        ds = ray.data.from_items(pending, override_num_blocks=min(len(pending), MAX_BLOCKS)).map_batches(
            _FileWorker, fn_constructor_args=(options, workers.threads), batch_size=1, compute=pool,
            runtime_env=job_runtime_env(), **workers.resources)
        rows = iter(ds.iter_rows())
        try:
            for row in rows:
                if cancel is not None and cancel.is_set():
                    raise Cancelled(f"{src_root}: cancelled after {done} of {len(pairs)} files; the files done "
                                    "are kept")
                i = int(row["index"])
                if i in items:  # a retried block answered twice: each file is reported once
                    continue
                src, dst = pairs[i]
                if row["fatal"]:
                    raise _fatal(row["fatal"], row["error"])
                metrics = json.loads(row["metrics"]) if row["metrics"] else None
                if metrics is not None:
                    metrics["worker"] = row["worker"]
                report(i, BatchItem(src, dst, row["status"], error=row["error"] or None, metrics=metrics))
        except ray.exceptions.RayError as e:  # the engine itself gave up (not one file's error)
            raise RestorationError(f"{src_root}: the batch on Ray stopped ({type(e).__name__}: {e}); files "
                                   "finished so far are kept: run it again to resume") from e
        finally:
            rows.close()  # stops the dataset's execution when the loop ends early (error or cancel)
    summary.items = [items[i] for i in sorted(items)]
    return summary


def _fatal(name: str, message: str) -> RestorationError:
    """The worker's job-stopping error as the same class the local batch raises."""
    cls = next((c for c in FATAL if c.__name__ == name), RestorationError)
    return cls(message)
