"""A batch's files on Ray Data: one actor per worker holds the models, files stream through it.

The front door (``restoration.jobs.restore_folder``) has planned the job exactly as for the local
executor; here the driver checks that every node reaches the folders, and Ray Data runs each pending
file on an actor (``_FileWorker``), which restores it with the library's ``restore_one`` and writes
the output where the local path would, atomically. Ray restarts an actor that dies and retries the
files it held (a file is its own block up to ``MAX_BLOCKS`` files, so little is redone; the output
is replaced atomically, so a redone file is never half written, and the job reports each file once).
Rows come back as they finish and are reported to the job.
"""

from __future__ import annotations

import json
import logging
import os
import socket
from pathlib import Path
from typing import Any

from ..batch import FATAL, BatchItem, restore_one
from ..errors import RestorationError
from ..jobs import FilesJob
from ..options import RestoreOptions
from .connect import ClusterSpec, check_reachable, job_runtime_env, set_threads, workers_for

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


def run_files(cluster: ClusterSpec, job: FilesJob) -> None:
    """Restore ``job.pending`` on Ray, reporting each file to the job as it finishes. Raises
    ``RestorationError`` when a node cannot reach the folders or Ray itself gives up (the files
    finished stay), the weight errors that stop a local batch (re-raised from the worker), and
    ``Cancelled`` when the job is cancelled."""
    ray, workers = workers_for(cluster, job.options.device)
    check_reachable(ray, {"input": job.inputs, "output": job.outputs})
    _quiet_ray_data()
    log.info("batch of %d files on %s", len(job.pending), workers.describe())
    pool = ray.data.ActorPoolStrategy(size=min(workers.count, len(job.pending)))
    rows_in = [{"index": i, "src": str(src.resolve()), "dst": str(dst.resolve())} for i, src, dst in job.pending]
    where = {i: (src, dst) for i, src, dst in job.pending}
    ds = ray.data.from_items(rows_in, override_num_blocks=min(len(rows_in), MAX_BLOCKS)).map_batches(
        _FileWorker, fn_constructor_args=(job.options, workers.threads), batch_size=1, compute=pool,
        runtime_env=job_runtime_env(), **workers.resources)
    rows = iter(ds.iter_rows())
    try:
        for row in rows:
            job.check_cancel()
            src, dst = where[int(row["index"])]
            if row["fatal"]:
                raise _fatal(row["fatal"], row["error"])
            metrics = json.loads(row["metrics"]) if row["metrics"] else None
            if metrics is not None:
                metrics["worker"] = row["worker"]
            job.report(int(row["index"]), BatchItem(src, dst, row["status"], error=row["error"] or None,
                                                    metrics=metrics))
    except ray.exceptions.RayError as e:  # the engine itself gave up (not one file's error)
        raise RestorationError(f"{job.inputs}: the batch on Ray stopped ({type(e).__name__}: {e}); files "
                               "finished so far are kept: run it again to resume") from e
    finally:
        rows.close()  # stops the dataset's execution when the loop ends early (error or cancel)


def _fatal(name: str, message: str) -> RestorationError:
    """The worker's job-stopping error as the same class the local batch raises."""
    cls = next((c for c in FATAL if c.__name__ == name), RestorationError)
    return cls(message)
