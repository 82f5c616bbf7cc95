"""Work that runs beside a request: a job in a thread of its own, its progress shown while it runs,
a Stop (or a closed page) passed on, and a server's shutdown (SIGTERM) that stops every job cleanly.
Nothing here imports a web framework.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any

from ..errors import Cancelled, RestorationError

log = logging.getLogger(__name__)


class Background:
    """``work(cancel, progress)`` in a thread of its own, so the caller can show its progress and pass
    a Stop on (``stop``: sets ``cancel`` and waits for the work to end). ``result()`` returns what
    ``work`` returned or raises what it raised. ``stop_all`` stops every one running (a server that
    is shutting down)."""

    running_jobs: set[Background] = set()
    stopping = False  # the server is shutting down: a job cancelled now says so
    _jobs_lock = threading.Lock()

    def __init__(self, work: Callable[[threading.Event, Callable[[float, str], None]], Any], name: str) -> None:
        self.fraction, self.message = 0.0, "starting"
        self.cancel = threading.Event()
        self._outcome: tuple[bool, Any] | None = None
        # the request's context (its visitor) goes with the work
        self._thread = threading.Thread(target=contextvars.copy_context().run, args=(self._run, work), daemon=True,
                                        name=name)
        with Background._jobs_lock:
            Background.running_jobs.add(self)
        self._thread.start()

    def _run(self, work: Callable[..., Any]) -> None:
        try:
            self._outcome = (True, work(self.cancel, self._progress))
        except BaseException as e:  # noqa: BLE001 - handed to the caller by result()
            self._outcome = (False, e)
        finally:
            with Background._jobs_lock:
                Background.running_jobs.discard(self)

    @classmethod
    def stop_all(cls, timeout: float = 8.0) -> int:
        """Cancel every job running and wait up to ``timeout`` seconds for them to end (each stops at
        its next batch of frames or file; what is finished stays, nothing is left half written).
        Returns how many there were."""
        with cls._jobs_lock:
            jobs = list(cls.running_jobs)
            cls.stopping = True
        for job in jobs:
            job.cancel.set()
        for job in jobs:
            job._thread.join(timeout / max(1, len(jobs)))
        return len(jobs)

    def _progress(self, fraction: float, message: str) -> None:
        self.fraction, self.message = fraction, message

    def running(self, wait: float = 0.5) -> bool:
        """Whether the work still runs, after waiting up to ``wait`` seconds for it to end."""
        self._thread.join(wait)
        return self._thread.is_alive()

    def stop(self, timeout: float = 120) -> None:
        if self._thread.is_alive():
            self.cancel.set()
            self._thread.join(timeout)

    def result(self) -> Any:
        ok, value = self._outcome if self._outcome is not None else (False, RestorationError("the job did not end"))
        if not ok and isinstance(value, Cancelled) and Background.stopping:
            raise RestorationError(f"{value}: the server is shutting down (a restart or an update); send it "
                                   "again in a minute") from value
        if not ok:
            raise value
        return value


def stop_on_sigterm() -> None:
    """On SIGTERM (``docker stop``, a Space's restart, any supervisor): stop the running jobs (what is
    finished stays, nothing is left half written), then raise ``KeyboardInterrupt`` in the main
    thread, on which a server's loop closes as on Ctrl-C (Gradio's closes its queue and returns)."""
    import signal

    def terminate(signum: int, frame: Any) -> None:
        log.info("SIGTERM: stopped %d running job(s); closing the server", Background.stop_all())
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, terminate)


async def watch(job: Background, progress: Callable[[float, str], None],
                changed: Callable[[], Any] | None = None, gone: Callable[[], bool] | None = None,
                every: float = 0.25) -> AsyncIterator[Any]:
    """An async generator for a streaming endpoint while ``job`` runs: reports its ``progress`` every
    ``every`` seconds, and yields what ``changed()`` returns when it is not None (new outputs to show;
    a page shows each yield as a new result, and restarts its clock, so nothing is yielded while only
    the progress moves). Between reports it awaits, so a Stop (the task cancelled) reaches it at once,
    and it asks ``gone()`` whether whoever asked has left (a closed page): either way the job is
    cancelled and waited for. Read the job's ``result()`` afterwards."""
    try:
        while job.running(0) and not (gone is not None and gone()):
            progress(job.fraction, job.message)
            shown = changed() if changed is not None else None
            if shown is not None:
                yield shown
            await asyncio.sleep(every)
    finally:
        await asyncio.to_thread(job.stop)
