"""GPU speed settings: cuDNN autotuning, and optional ``torch.compile`` with a cache that outlives the process.

- On CUDA, cuDNN times its convolution algorithms once per new input shape and keeps the fastest
  (``torch.backends.cudnn.benchmark``). Tiles and video frames repeat one shape, so the search is paid
  once per size. ``RESTORATION_CUDNN_BENCHMARK=0`` turns it off.
- ``RESTORATION_COMPILE=1`` compiles the super-resolution networks with ``torch.compile`` (Inductor) at
  their first call. That call is slow (minutes for x4plus on a GPU), so compiled code goes to a
  cache folder (``RESTORATION_COMPILE_CACHE``, default ``~/.cache/restoration/torch-compile``) that
  later processes read back in seconds. Compilation is bounded: a network is compiled for its first
  shape, once more with dynamic sizes when a second shape comes, and never more than
  ``torch._dynamo.config.recompile_limit`` times; past that it runs eagerly. If compiling fails the
  network runs eagerly from then on, with a warning: compiling never costs a result.
"""

from __future__ import annotations

import functools
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

import torch

from . import config

log = logging.getLogger(__name__)


@functools.cache
def cpu_bf16() -> bool:
    """Whether this CPU computes bf16 natively (AVX-512 BF16 or AMX, from the processor's own flags on
    Linux); elsewhere, or when it cannot tell, False: bf16 is then emulated and slower than fp32."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return any(f in flags.split() for f in ("avx512_bf16", "amx_bf16"))


def configure_cuda() -> None:
    """Apply the CUDA-wide settings (cuDNN autotuning unless ``RESTORATION_CUDNN_BENCHMARK=0``)."""
    torch.backends.cudnn.benchmark = config.get("RESTORATION_CUDNN_BENCHMARK")


def compile_requested() -> bool:
    """True when ``RESTORATION_COMPILE`` asks for ``torch.compile`` (never on a ZeroGPU Space, whose
    short-lived GPU processes would pay for compiling at every call)."""
    if config.on_zerogpu():
        if config.get("RESTORATION_COMPILE"):
            log.warning("RESTORATION_COMPILE is ignored on ZeroGPU")
        return False
    return config.get("RESTORATION_COMPILE")


def compile_cache_dir() -> Path:
    """Where compiled kernels are kept between processes."""
    return config.get("RESTORATION_COMPILE_CACHE") or config.cache_home() / "restoration" / "torch-compile"


class CompiledNet:
    """``module`` run through ``torch.compile``, falling back to eager if compiling fails.

    ``first_call_seconds`` is how long the first call took (the cold start, compile included).
    Out-of-memory errors pass through unchanged so the tiler can back off.
    """

    def __init__(self, module: torch.nn.Module, name: str, backend: str = "inductor"):
        self.module = module
        self.name = name
        self.failed = False
        self.first_call_seconds: float | None = None
        if backend == "inductor" and "TORCHINDUCTOR_CACHE_DIR" not in os.environ:
            folder = compile_cache_dir()
            folder.mkdir(parents=True, exist_ok=True)
            os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(folder)
        self._compiled: Callable[[torch.Tensor], torch.Tensor] = torch.compile(module, backend=backend)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if self.failed:
            return self.module(x)
        t0 = time.perf_counter()
        try:
            out = self._compiled(x)
        except torch.OutOfMemoryError:
            raise
        except Exception as e:  # noqa: BLE001 - Dynamo/Inductor raise many kinds; eager still works
            log.warning("torch.compile failed for %s (%s: %s); running it without compiling",
                        self.name, type(e).__name__, str(e).splitlines()[0] if str(e) else "")
            self.failed = True
            return self.module(x)
        if self.first_call_seconds is None:
            if x.is_cuda:
                torch.cuda.synchronize(x.device)
            self.first_call_seconds = time.perf_counter() - t0
            log.info("%s compiled; first call took %.1f s", self.name, self.first_call_seconds)
        return out
