"""Batch and video jobs on a Ray cluster: the same jobs, files and reports as the local path.

``Cluster`` says where to run (an embedded local Ray, ``RAY_ADDRESS``, or an address) and how big a
worker is; ``restore_folder(..., ray=...)``, ``restore_archive(..., ray=...)`` and
``restore_video(..., ray=...)`` take one (or True / an address). Ray is an optional dependency
(``pip install .[cluster]``); this module imports it only when a job starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import OptionError


@dataclass(frozen=True)
class Cluster:
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


def as_cluster(ray: Any) -> Cluster:
    """``Cluster`` from what a caller may pass as ``ray=``: a ``Cluster``, True or "" (the default
    cluster), or an address."""
    if isinstance(ray, Cluster):
        return ray
    if ray is True or ray == "":
        return Cluster()
    if isinstance(ray, str):
        return Cluster(address=ray.strip() or None)
    raise OptionError(f"ray must be True, an address or a Cluster, got {ray!r}")


__all__ = ["Cluster", "as_cluster"]
