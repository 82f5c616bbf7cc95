"""Joining (or starting) Ray, and sizing the workers of a job to the cluster's GPUs or CPUs."""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import OptionError, RestorationError

log = logging.getLogger(__name__)

DEFAULT_CPUS_PER_WORKER = 4
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])  # the folder that holds ``restoration/``
_embedded = False  # whether this process started the Ray it uses (its workers share this machine)


@dataclass(frozen=True)
class ClusterSpec:
    """Where a job runs and how its workers are sized.

    ``address``: None joins ``RAY_ADDRESS`` when it is set and otherwise starts an embedded Ray
    sized to this machine; "local" always starts the embedded one; anything else (``ray://host:10001``,
    ``host:6379``, ``auto``) is passed to ``ray.init``. ``workers``: how many (default: one per GPU
    of the cluster, else as many CPU workers as fit). ``gpus_per_worker``: a fraction shares a GPU
    between small models. ``cpus_per_worker``: the cores a CPU worker takes (default 4, at most the
    cluster's); its torch threads follow it.
    """

    address: str | None = None
    workers: int | None = None
    gpus_per_worker: float = 1.0
    cpus_per_worker: float | None = None

    def __post_init__(self) -> None:
        if self.workers is not None and self.workers < 1:
            raise OptionError(f"workers must be at least 1, got {self.workers}")
        if not 0 < self.gpus_per_worker <= 8:
            raise OptionError(f"gpus_per_worker must be above 0 and at most 8, got {self.gpus_per_worker}")
        if self.cpus_per_worker is not None and self.cpus_per_worker <= 0:
            raise OptionError(f"cpus_per_worker must be above 0, got {self.cpus_per_worker}")


@dataclass(frozen=True)
class Workers:
    """How one job's workers are asked of Ray: ``count`` workers, each with ``resources``
    (``num_gpus`` / ``num_cpus``) and ``threads`` torch threads (its share of the cores; 0 leaves
    torch's default)."""

    count: int
    resources: dict[str, float]
    threads: int
    on_gpu: bool

    def describe(self) -> str:
        kind = f"{self.resources['num_gpus']:g} GPU" if self.on_gpu else f"{self.resources['num_cpus']:g} CPU"
        return f"{self.count} worker(s) of {kind} each"


def ray_module():
    """``ray``, or an ``OptionError`` saying how to install it."""
    try:
        import ray
    except ImportError:
        raise OptionError("running on Ray needs the cluster extra: pip install 'restoration[cluster]' "
                          "(or pip install -r requirements-cluster.txt)") from None
    return ray


def connect(cluster: ClusterSpec) -> Any:
    """Join the cluster ``cluster`` names, or start the embedded one; reuses a Ray this process
    already joined. Returns the ``ray`` module. Raises ``OptionError`` without Ray installed and
    ``RestorationError`` when the address cannot be reached."""
    ray = ray_module()
    if ray.is_initialized():
        return ray
    address = cluster.address
    if address is None:
        address = os.environ.get("RAY_ADDRESS") or None
    if address == "local":
        address = None
    global _embedded
    try:
        if address is None:
            os.environ.pop("RAY_ADDRESS", None)
            ray.init(include_dashboard=False, runtime_env=job_runtime_env(True), logging_level=logging.WARNING,
                     object_store_memory=512 << 20)
            _embedded = True
            log.info("started an embedded Ray: %s", ray.cluster_resources())
        else:
            ray.init(address=address, logging_level=logging.WARNING)
            log.info("joined the Ray cluster at %s: %s", address, ray.cluster_resources())
    except (ConnectionError, TimeoutError, RuntimeError, ValueError) as e:
        raise RestorationError(f"Ray cluster {address or '(embedded)'}: cannot start or join it ({e}); check "
                               "the address and that the head is running (ray start --head). HEAD:6379 works only "
                               "on a node of the cluster (run `ray start --address=HEAD:6379` on this machine "
                               "first); from anywhere else use Ray Client: ray://HEAD:10001") from e
    return ray


def job_runtime_env(embedded: bool | None = None) -> dict[str, Any]:
    """What a job's workers get from this process. On the embedded Ray (same machine): this package's
    folder on ``PYTHONPATH`` and this process's settings (``RESTORATION_*``, ``HF_*``: the models
    folder, offline mode, token, limits), so a job behaves as it would locally. On a joined cluster:
    nothing; its workers run the same image and read their own environment."""
    from ..config import SETTINGS

    if not (_embedded if embedded is None else embedded):
        return {}
    env = {k: v for k, v in os.environ.items() if k in SETTINGS or k.startswith(("RESTORATION_", "HF_"))}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (_PACKAGE_ROOT, os.environ.get("PYTHONPATH", "")) if p)
    return {"env_vars": env}


def size_workers(cluster: ClusterSpec, device: str, resources: dict[str, float]) -> Workers:
    """The workers of a job on a cluster with ``resources`` (``ray.cluster_resources()``): one per
    GPU (or ``1 / gpus_per_worker`` per GPU) when the cluster has GPUs and ``device`` allows them,
    else CPU workers of ``cpus_per_worker`` cores. ``cluster.workers`` is capped at what fits now.
    Raises ``OptionError`` when ``device`` is "cuda" and the cluster has no GPU."""
    gpus, cpus = resources.get("GPU", 0.0), resources.get("CPU", 0.0)
    if device.startswith("cuda") and gpus <= 0:
        raise OptionError("device cuda was asked for, but the Ray cluster has no GPU; add GPU workers or use "
                          "device auto or cpu")
    if gpus > 0 and device != "cpu":
        per = cluster.gpus_per_worker
        fit = max(1, math.floor(gpus / per + 1e-9))
        count = _capped(cluster.workers, fit, "GPU")
        # the CPU side of a GPU worker (decoding, colour conversion) gets its share of the cores
        return Workers(count, {"num_gpus": per, "num_cpus": 1.0}, max(1, int(cpus // count)) if cpus else 0, True)
    if cpus <= 0:
        raise RestorationError("the Ray cluster has no CPU to run on; check that its workers joined")
    per = cluster.cpus_per_worker or float(min(DEFAULT_CPUS_PER_WORKER, cpus))
    fit = max(1, math.floor(cpus / per + 1e-9))
    count = _capped(cluster.workers, fit, "CPU")
    return Workers(count, {"num_cpus": per, "num_gpus": 0.0}, max(1, int(per)), False)


def _capped(asked: int | None, fit: int, kind: str) -> int:
    if asked is None:
        return fit
    if asked > fit:
        log.warning("%d workers asked for, but the cluster's %ss fit %d now: using %d", asked, kind, fit, fit)
    return min(asked, fit)


def workers_for(cluster: ClusterSpec, device: str) -> tuple[Any, Workers]:
    """``connect`` then ``size_workers``: the ``ray`` module and the job's workers."""
    ray = connect(cluster)
    return ray, size_workers(cluster, device, ray.cluster_resources())


def set_threads(threads: int) -> None:
    """A CPU worker's torch threads: the cores Ray gave it, not the whole node's."""
    if threads > 0:
        import torch

        torch.set_num_threads(threads)


def check_reachable(ray: Any, folders: dict[str, Path]) -> None:
    """Ask one small task on every live node whether it sees ``folders`` ({"input": path, ...}: the
    input must exist, the output must be a folder it can write). Raises ``RestorationError`` naming
    the node and the path before any work starts: inputs and outputs must be on storage every node
    shares."""
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    @ray.remote(num_cpus=0)
    def look(paths: dict[str, str]) -> list[str]:
        missing = []
        for role, p in paths.items():
            path = Path(p)
            ok = os.access(path, os.W_OK) if role == "output" else path.exists()
            if not ok:
                missing.append(f"{role} {p}")
        return missing

    paths = {role: str(Path(p).resolve()) for role, p in folders.items()}
    nodes = [n for n in ray.nodes() if n.get("Alive")]
    refs = {n["NodeManagerAddress"]: look.options(scheduling_strategy=NodeAffinitySchedulingStrategy(
        n["NodeID"], soft=False)).remote(paths) for n in nodes}
    for node, ref in refs.items():
        missing = ray.get(ref, timeout=120)
        if missing:
            raise RestorationError(f"Ray node {node} cannot reach the {' nor the '.join(missing)}: inputs and "
                                   "outputs must be on storage every node mounts at the same path")
