"""Batch and video jobs on a Ray cluster: the same jobs, files and reports as the local path.

``Cluster`` is an executor of ``restoration.jobs``: it says where to run (an embedded local Ray,
``RAY_ADDRESS``, or an address) and how big a worker is, and is passed as ``executor=`` to
``restore_folder``, ``restore_archive`` and ``restore_video``. Ray is an optional dependency
(``pip install .[cluster]``); this package imports it only when a job starts. It uses only public
names of the library: the file and piece runners and the job types of ``restoration.jobs``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import OptionError
from .connect import ClusterSpec

if TYPE_CHECKING:
    from ..jobs import FilesJob
    from ..video.finish import VideoRun
    from ..video.plan import VideoJob


@dataclass(frozen=True)
class Cluster(ClusterSpec):
    """An executor on Ray (see ``ClusterSpec`` for the fields): a batch's files go through Ray Data,
    a video's segments to Ray actors."""

    def run_files(self, job: FilesJob) -> None:
        from .batch import run_files

        run_files(self, job)

    def run_video(self, job: VideoJob) -> VideoRun:
        from .video import run_video

        return run_video(self, job)


def as_cluster(ray: Any) -> Cluster:
    """``Cluster`` from what a caller may give for Ray: a ``Cluster``, True or "" (the default
    cluster), or an address."""
    if isinstance(ray, Cluster):
        return ray
    if ray is True or ray == "":
        return Cluster()
    if isinstance(ray, str):
        return Cluster(address=ray.strip() or None)
    raise OptionError(f"ray must be True, an address or a Cluster, got {ray!r}")


__all__ = ["Cluster", "ClusterSpec", "as_cluster"]
