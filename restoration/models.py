"""Loading networks through spandrel into a small, thread-safe, per-process cache.

Nothing loads at import. ``load_model(model_id, device, precision)`` resolves the weights
(``weights.resolve``), loads them with spandrel's restricted loader (safetensors, or pickles limited
to tensors and plain containers), checks that the file holds the architecture and scale the catalogue
promises, moves the network to the device and precision, and keeps it for later calls.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from . import precision
from .accel import CompiledNet, compile_requested, configure_cuda, cpu_bf16
from .arches import Traits, traits
from .catalog import ModelSpec, get_spec, wrong_kind
from .errors import ModelLoadError, OptionError
from .refs import WEIGHT_SUFFIXES, ModelRef, parse_ref
from .tiling import tick
from .weights import ResolvedWeights, resolve

log = logging.getLogger(__name__)

# Measured faster in bf16 on a CPU (x4plus 2.9x, compact 4.5x, GFPGAN 1.9x) and within 45 dB of fp32 on
# photos; DDColor's own code keeps fp32 tensors, so it stays in fp32.
_CPU_BF16_TASKS = ("super-resolution", "restoration", "face-restoration")
_extra_lock = threading.Lock()
_extra_installed = False
_cache_lock = threading.Lock()
_cache: dict[tuple[str, str, str, str, bool], LoadedModel] = {}
_key_locks: dict[tuple[str, str, str, str, bool], threading.Lock] = {}


@dataclass
class LoadedModel:
    """A network ready to run.

    Call contract: ``model(x)`` takes ``(N, C, H, W)`` float in [0, 1] on ``device`` (any float dtype;
    it is cast to ``dtype``) and returns float32 on ``device``. Super-resolution models return
    ``(N, C, H*scale, W*scale)`` clamped to [0, 1]; DDColor returns the ``(N, 2, h, w)`` ab channels
    for its ``(N, 3, input_size, input_size)`` gray input (see ``stages.colorize``). An fp16 network
    whose output holds inf or NaN is run again in bf16 (fp32 where the GPU has no bf16), and stays so.
    ``net`` is what runs (the module, or it compiled; ``None``: the descriptor's module).
    """

    spec: ModelSpec
    descriptor: Any
    device: torch.device
    dtype: torch.dtype
    weights: ResolvedWeights
    net: Callable[[torch.Tensor], torch.Tensor] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _switch_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _fallback: tuple[Any, torch.dtype] | None = field(default=None, repr=False)

    @property
    def scale(self) -> int:
        return int(self.descriptor.scale)

    @property
    def traits(self) -> Traits:
        """What the code knows of this network's architecture (``restoration.arches``)."""
        return traits(self.spec.architecture)

    @property
    def compiled(self) -> bool:
        """True while the network runs through ``torch.compile`` (not fallen back to eager)."""
        return self._fallback is None and isinstance(self.net, CompiledNet) and not self.net.failed

    def __call__(self, x: torch.Tensor, noise_level: float | None = None) -> torch.Tensor:
        """``noise_level`` (0..1, for noise-conditioned networks such as DRUNet; default 15/255) is given
        to the network as an extra input plane."""
        guard = self._lock if self.traits.stateful else contextlib.nullcontext()
        with guard, torch.inference_mode():
            runner = self._fallback or (self.net or self.descriptor.model, self.dtype)
            try:
                out = self._run(runner, x, noise_level)
            except RuntimeError as e:  # bf16 on a CPU: an operation of the network that mixes in fp32 tensors
                if runner[1] != torch.bfloat16 or self.device.type != "cpu" or isinstance(e, torch.OutOfMemoryError):
                    raise
                out = self._run(self._leave_half(f"failed in bf16 ({str(e).splitlines()[0][:120]})"), x, noise_level)
            if runner[1] == torch.float16 and not bool(torch.isfinite(out).all()):
                out = self._run(self._leave_half("overflowed in fp16 (inf or NaN in its output)"), x, noise_level)
            if self.spec.task != "colorization":
                out = out.clamp_(0, 1)
            return out.float()

    def _run(self, runner: tuple[Callable[[torch.Tensor], torch.Tensor], torch.dtype], x: torch.Tensor,
             noise_level: float | None = None) -> torch.Tensor:
        net, dtype = runner
        x = x.to(device=self.device, dtype=dtype)
        if (self.device.type == "cuda" or dtype == torch.bfloat16) and self.spec.task != "colorization":
            x = x.contiguous(memory_format=torch.channels_last)
        if self.spec.task == "colorization":
            return net(x)
        # Super-resolution: pad to the sizes the architecture needs, then crop the result back.
        h, w = x.shape[-2:]
        pad_w, pad_h = self.descriptor.size_requirements.get_padding(w, h)
        if pad_w or pad_h:  # reflect as far as it reaches, then repeat the edge
            rw, rh = min(pad_w, w - 1), min(pad_h, h - 1)
            x = F.pad(x, (0, rw, 0, rh), mode="reflect")
            x = F.pad(x, (0, pad_w - rw, 0, pad_h - rh), mode="replicate")
        if self.traits.noise_plane:  # the noise level as a 4th input plane
            level = 15 / 255 if noise_level is None else noise_level
            x = torch.cat([x, torch.full_like(x[:, :1], level)], 1)
        out = net(x)
        if pad_w or pad_h:
            out = out[..., : h * self.scale, : w * self.scale]
        return out

    def _leave_half(self, why: str) -> tuple[Callable[[torch.Tensor], torch.Tensor], torch.dtype]:
        """After an fp16 overflow (inf/NaN out, a black or blotched picture): a bf16 copy of the network
        where the GPU has bf16, else fp32; after a bf16 failure on a CPU: fp32. Used for this call and
        every later one."""
        with self._switch_lock:
            if self._fallback is None:
                bf16 = (self.device.type == "cuda" and self.spec.supports_bf16 and self.dtype == torch.float16
                        and torch.cuda.is_bf16_supported())
                dtype = torch.bfloat16 if bf16 else torch.float32
                # From the file again: the fp16 copy in memory has lost the weights' low bits.
                net = load_descriptor(self.weights.path, self.spec).model.to(self.device, dtype).eval()
                if self.device.type == "cuda":
                    net.to(memory_format=torch.channels_last)
                self._fallback = (net, dtype)
                self.dtype = dtype
                log.warning("%s %s; running it in %s from now on", self.spec.id, why, str(dtype).replace("torch.", ""))
            return self._fallback


def resolve_device(device: str = "auto") -> torch.device:
    """``auto`` -> CUDA when available, else CPU. Raises ``OptionError`` when CUDA (or ``cuda:N``) is
    asked for and not there."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise OptionError(f"device={device!r} but no CUDA GPU is available; use 'auto' or 'cpu'")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise OptionError(
                f"device={device!r} but only {torch.cuda.device_count()} CUDA device(s) exist"
            )
    return dev


def resolve_dtype(spec: ModelSpec, device: torch.device, precision: str = "auto") -> torch.dtype:
    """On CUDA fp16 (or bf16) where the spec allows it; on a CPU that computes bf16 natively
    (``accel.cpu_bf16``) bf16 for the super-resolution and restoration networks that allow it, fp32
    elsewhere; unless ``precision`` forces one (fp16 on a CPU is fp32). Raises ``OptionError`` when
    the forced precision is one the model does not support."""
    if device.type != "cuda":
        if precision == "fp16":
            log.info("precision fp16 ignored on %s: using fp32", device)
        if precision == "bf16" and not spec.supports_bf16:
            raise OptionError(f"precision='bf16' is not supported by {spec.id}; use 'auto' or 'fp32'")
        cpu_fast = precision == "auto" and spec.supports_bf16 and cpu_bf16() and spec.task in _CPU_BF16_TASKS
        return torch.bfloat16 if precision == "bf16" or cpu_fast else torch.float32
    if precision == "fp32":
        return torch.float32
    if precision == "fp16":
        if not spec.supports_half:
            raise OptionError(f"precision='fp16' is not supported by {spec.id}; use 'auto' or 'bf16'")
        return torch.float16
    if precision == "bf16":
        if not spec.supports_bf16:
            raise OptionError(f"precision='bf16' is not supported by {spec.id}; use 'auto' or 'fp32'")
        return torch.bfloat16
    if spec.supports_half:
        return torch.float16
    if spec.supports_bf16 and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float32


def _install_extra_arches() -> None:
    global _extra_installed
    with _extra_lock:
        if not _extra_installed:
            import spandrel_extra_arches

            spandrel_extra_arches.install(ignore_duplicates=True)
            _extra_installed = True


def load_descriptor(path: Path, spec: ModelSpec | None) -> Any:
    """Load ``path`` with spandrel on the CPU and check it is the network ``spec`` describes (any
    network spandrel knows when ``spec`` is None). Raises ``ModelLoadError`` for a file of another
    kind, one spandrel cannot load (a pickle that would run code among them), or one holding another
    architecture or scale."""
    import spandrel

    if path.suffix.lower() not in WEIGHT_SUFFIXES:
        raise ModelLoadError(
            f"{path.name}: weight files must be .safetensors, .pth or .ckpt (got {path.suffix or 'no suffix'})"
        )
    if spec is None or traits(spec.architecture).extra:
        _install_extra_arches()
    what = f"{spec.id} ({spec.architecture})" if spec is not None else "a model spandrel knows"
    try:
        desc = spandrel.ModelLoader(device=torch.device("cpu")).load_from_file(path)
    except Exception as e:  # spandrel raises ValueError, UnpicklingError, RuntimeError, KeyError...
        raise ModelLoadError(
            f"{path} could not be loaded as {what}: {type(e).__name__}: {str(e)[:300]}. "
            + ("Replace the file or delete it so it is downloaded again" if spec is not None else
               "Check that it is an image model's weights (safetensors, or a .pth of tensors only)")
        ) from e
    arch = desc.architecture.id
    if spec is not None and (arch != spec.architecture or int(desc.scale) != spec.scale):
        raise ModelLoadError(
            f"{path} holds a {arch} x{desc.scale} network, but {spec.id} needs "
            f"{spec.architecture} x{spec.scale}; replace the file"
        )
    return desc


def load_model(
    model_id: str, device: str = "auto", precision: str = "auto", *, compile: bool | None = None,
    task: str | None = None, weights: ResolvedWeights | None = None,
) -> LoadedModel:
    """The model ``model_id`` (a catalogue id, a weight file or ``hf:owner/repo/file``; see
    ``restoration.refs``) on ``device`` in the precision chosen by ``resolve_dtype``; cached.

    ``task`` is what the caller will use it for: a model of another kind is refused with where it
    belongs. ``compile`` (default: ``RESTORATION_COMPILE``) runs super-resolution networks through
    ``torch.compile``; see ``restoration.accel``. ``weights``: where the file is, when the caller has
    already found it (``locate``). Raises ``UnknownModelError``, ``OptionError`` (device,
    precision, a model of the wrong kind), the errors of ``weights.resolve`` (``WeightsUnavailableError``,
    ``ChecksumMismatchError``) and ``ModelLoadError``.
    """
    ref = parse_ref(model_id)
    dev = resolve_device(device)
    weights = weights or _locate(ref)
    if compile is None:
        compile = compile_requested()
    st = weights.path.stat()
    key = (ref.text, str(dev), precision, str(weights.path), st.st_size, st.st_mtime_ns, bool(compile))
    with _cache_lock:
        hit = _cache.get(key)
        if hit is None:
            key_lock = _key_locks.setdefault(key, threading.Lock())
    if hit is None:
        with key_lock:
            with _cache_lock:
                hit = _cache.get(key)
            if hit is None:
                hit = _load(ref, weights, dev, precision, compile)
                with _cache_lock:
                    _cache[key] = hit
    check_task(hit.spec, task, ref.name)
    return hit


def is_loaded(model_id: str, device: str, precision: str, weights: ResolvedWeights) -> bool:
    """Whether ``load_model`` has this model in memory already (it would return at once)."""
    st = weights.path.stat()
    key = (parse_ref(model_id).text, str(resolve_device(device)), precision, str(weights.path), st.st_size,
           st.st_mtime_ns, bool(compile_requested()))
    with _cache_lock:
        return key in _cache


def locate(model_id: str) -> ResolvedWeights:
    """Where the weights of ``model_id`` (a catalogue id, a weight file or ``hf:owner/repo/file``) are,
    downloading them if they must be and may be; nothing is loaded. Raises ``UnknownModelError``,
    ``OptionError`` (a file that is not there) and the errors of ``weights.resolve``."""
    return _locate(parse_ref(model_id))


def _locate(ref: ModelRef) -> ResolvedWeights:
    return ResolvedWeights(ref.text, ref.path, "local") if ref.path is not None else resolve(ref.text)


def _load(ref: ModelRef, weights: ResolvedWeights, dev: torch.device, precision: str, compile: bool) -> LoadedModel:
    if ref.kind == "catalog":
        spec = get_spec(ref.text)
        desc = load_descriptor(weights.path, spec)
    else:
        desc = load_descriptor(weights.path, None)
        spec = spec_for_file(ref, desc)
    dtype = resolve_dtype(spec, dev, precision)
    desc.to(dev)
    {torch.float16: desc.half, torch.bfloat16: desc.bfloat16}.get(dtype, desc.float)()
    desc.eval()
    if (dev.type == "cuda" or dtype == torch.bfloat16) and spec.task in ("super-resolution", "restoration"):
        # channels-last: what cuDNN and oneDNN's bf16 run best (not the face networks: they view their weights)
        with contextlib.suppress(RuntimeError):  # not for 5-D weights (StyleGAN's modulated convolutions)
            desc.model.to(memory_format=torch.channels_last)
    if dev.type == "cuda":
        configure_cuda()
    elif not compile:
        _report_blocks(desc.model)
    loaded = LoadedModel(spec, desc, dev, dtype, weights)
    checked = dev.type == "cpu" or ref.kind != "catalog"  # on a CPU every model's first bf16 load is checked
    if checked and dtype != torch.float32 and spec.task in ("super-resolution", "restoration"):
        loaded = _checked_precision(loaded, weights, spec, dev)
    if compile and spec.task == "super-resolution":
        loaded.net = CompiledNet(desc.model, spec.id)
    log.info("loaded %s from %s (%s) on %s as %s", spec.id, weights.path, weights.source, dev, dtype)
    return loaded


def _report_blocks(net: torch.nn.Module) -> None:
    """Each block of the network's longest chain (RRDBNet's 23 RRDBs, Compact's convolutions...)
    reports how far a call has come (``tiling.tick``), so a call of many seconds on a CPU moves the
    progress bar. Not on a GPU: its calls return before the work is done."""
    chains = [m for m in net.modules() if isinstance(m, (torch.nn.Sequential, torch.nn.ModuleList))]
    chain = max(chains, key=len, default=None)
    if chain is None or len(chain) < 4:
        return
    for i, block in enumerate(chain, 1):
        block.register_forward_hook(lambda *_, f=i / len(chain): tick(f))


def _checked_precision(loaded: LoadedModel, weights: ResolvedWeights, spec: ModelSpec, dev: torch.device
                       ) -> LoadedModel:
    """``loaded`` (in half precision) if ``precision.keep_half`` allows it, else the fp32 twin."""
    desc32 = load_descriptor(weights.path, None)
    desc32.to(dev).float().eval()
    reference = LoadedModel(spec, desc32, dev, torch.float32, weights)
    floor = precision.PRECISION_FLOOR_DB if dev.type == "cuda" else precision.CPU_PRECISION_FLOOR_DB
    keep = precision.keep_half(spec.id, loaded.dtype, loaded, reference, precision.check_picture().to(dev), floor)
    return loaded if keep else reference


def spec_for_file(ref: ModelRef, desc: Any) -> ModelSpec:
    """A ``ModelSpec`` for a model file, from what spandrel found in it. Raises ``ModelLoadError`` for
    a kind of model no stage uses (inpainting) or one that does not take RGB images."""
    arch, scale, purpose = desc.architecture.id, int(desc.scale), desc.purpose
    if traits(arch).task:
        task = traits(arch).task
    elif purpose == "FaceSR":
        task = "face-restoration"
    elif purpose == "Restoration" or (purpose == "SR" and scale == 1):
        task = "restoration"
    elif purpose == "SR":
        task = "super-resolution"
    else:
        raise ModelLoadError(f"{ref.name} is an {purpose.lower()} model ({arch}); no stage here uses one")
    if task != "colorization" and (desc.input_channels != 3 or desc.output_channels != 3):
        raise ModelLoadError(f"{ref.name} ({arch}) takes {desc.input_channels}-channel images and gives "
                             f"{desc.output_channels}; only RGB (3-channel) models can be used")
    from spandrel import ModelTiling

    extra = arch in _extra_arch_ids()
    return ModelSpec(
        id=ref.text, task=task, architecture=arch, scale=scale, hub_repo=ref.repo,
        filename=ref.filename or ref.name, revision=ref.revision, sha256=None,
        license=("non-commercial (an architecture of spandrel_extra_arches)" if extra
                 else "unknown: see the file's source"),
        supports_half=bool(desc.supports_half), supports_bf16=bool(desc.supports_bfloat16),
        source=ref.text, description=f"{arch} x{scale} from {ref.name}",
        tile=0 if desc.tiling != ModelTiling.SUPPORTED else 512, commercial_use=not extra,
    )


def check_task(spec: ModelSpec, task: str | None, name: str) -> None:
    """``OptionError`` when a model of ``spec.task`` is used where ``task`` is needed, saying where it goes."""
    if task is not None and spec.task != task:
        raise wrong_kind(name, spec.task, task, f" ({spec.architecture} x{spec.scale})")


def _extra_arch_ids() -> set[str]:
    import spandrel_extra_arches

    return {a.architecture.id for a in spandrel_extra_arches.EXTRA_REGISTRY.architectures()}


def clear_cache() -> None:
    """Forget every loaded model (frees their memory once no caller holds them). Raises nothing."""
    with _cache_lock:
        _cache.clear()
        _key_locks.clear()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
