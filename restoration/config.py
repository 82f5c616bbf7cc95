"""Every environment setting, listed once with its default and meaning, read by one set of helpers.

``get(name)`` reads the variable at each call (so a process or a test may change it between calls)
and parses it by its kind; a value that cannot be used raises ``ConfigError`` naming the variable,
the value and what is expected, never a bare traceback. README's settings table is checked against
``SETTINGS`` by a test. Pure Python: no torch.
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from .errors import ConfigError

Kind = Literal["int", "float", "flag", "path", "text"]
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


@dataclass(frozen=True)
class Setting:
    """One environment variable: its ``kind``, ``default`` (None: unset means "not used") and the
    smallest value allowed for numbers."""

    name: str
    kind: Kind
    default: Any
    meaning: str
    minimum: float | None = None
    group: str = "library"
    choices: tuple[str, ...] | None = None


_S = Setting
SETTINGS: dict[str, Setting] = {s.name: s for s in (
    # where weights come from
    _S("RESTORATION_MODELS_DIR", "path", None, "a folder of your own weights, tried first: `<model id>.safetensors`, "
       "`<model id>.pth` or the upstream file name (e.g. `RealESRGAN_x4plus.pth`)"),
    _S("HF_HUB_OFFLINE", "flag", False, "never touch the network: only the local folder and the Hub cache"),
    _S("HF_TOKEN", "text", None, "Hugging Face token, for gated or private repositories"),
    _S("HF_HOME", "path", None, "Hugging Face home; the Hub cache is its `hub` folder"),
    _S("HF_HUB_CACHE", "path", None, "the Hub cache itself (default `$HF_HOME/hub`, else "
       "`~/.cache/huggingface/hub`)"),
    _S("XDG_CACHE_HOME", "path", None, "the user's cache folder (default `~/.cache`)"),
    # limits of the library
    _S("RESTORATION_MAX_PIXELS", "int", 100_000_000, "largest image (or video frame) accepted, in or out, "
       "in pixels", 1),
    _S("RESTORATION_MAX_ARCHIVE_FILES", "int", 1000, "images taken from one zip", 1),
    _S("RESTORATION_MAX_ARCHIVE_MB", "int", 2048, "uncompressed size read from one zip, in MiB", 1),
    _S("RESTORATION_MAX_MODEL_MB", "int", 2048, "largest model file taken, in MB: an upload in the Models tab, "
       "or an `hf:` file (its size is read before downloading)", 1),
    # speed on a GPU
    _S("RESTORATION_GPU_MEMORY_GB", "float", 6.0, "activation memory one stage plans for on a GPU (never "
       "more than half the free memory); lower it to share the card", 0.25),
    _S("RESTORATION_COMPILE", "flag", False, "compile the super-resolution networks with `torch.compile` "
       "at first use (needs a C compiler)"),
    _S("RESTORATION_COMPILE_CACHE", "path", None, "where compiled kernels are kept between runs (default "
       "`~/.cache/restoration/torch-compile`)"),
    _S("RESTORATION_CUDNN_BENCHMARK", "flag", True, "cuDNN's algorithm search on CUDA; 0 turns it off"),
    # GPU time on a ZeroGPU Space
    _S("RESTORATION_GPU_MAX_S", "float", 120.0, "the longest GPU call the app declares on ZeroGPU, in seconds; "
       "longer work runs as several calls", 5),
    _S("RESTORATION_GPU_TIME_SCALE", "float", None, "factor on the per-pixel part of the GPU time estimate, whose "
       "reference is an H100; unset: 1, or 3 on ZeroGPU (half an RTX PRO 6000, a stated guess); raise it for a "
       "slower GPU", 0.01),
    _S("SPACES_ZERO_GPU", "flag", False, "set by Hugging Face on a ZeroGPU Space: GPU work then runs as calls "
       "of a declared duration (`RESTORATION_GPU_MAX_S`), and `torch.compile` is never used"),
    # the app
    _S("GRADIO_SERVER_NAME", "text", "127.0.0.1", "address the app listens on (0.0.0.0: every interface)",
       group="app"),
    _S("GRADIO_SERVER_PORT", "int", 7860, "port the app listens on", 1, group="app"),
    _S("GRADIO_ROOT_PATH", "text", None, "the path the app is served under behind a proxy (e.g. `/restore`); links "
       "to results include it", group="app"),
    _S("RESTORATION_CONCURRENCY", "int", 1, "restore jobs running at once", 1, group="app"),
    _S("RESTORATION_QUEUE_SIZE", "int", 32, "requests waiting at most; more get \"queue full\"", 1, group="app"),
    _S("RESTORATION_MAX_UPLOAD_MB", "int", 50, "largest image or batch file, in MB", 1, group="app"),
    _S("RESTORATION_MAX_VIDEO_MB", "int", 500, "largest video, in MB", 1, group="app"),
    _S("RESTORATION_MAX_BATCH_FILES", "int", 200, "images per batch (after unzipping)", 1, group="app"),

    _S("RESTORATION_USER_MODELS", "text", "own", "who may add models (a file in the Models tab, or `hf:` "
       "references): `off` (nobody), `own` (each visitor sees, uses and removes only theirs, while their results "
       "are kept), `shared` (everyone sees everyone's: a private server)", group="app",
       choices=("off", "own", "shared")),
    _S("RESTORATION_USER_MODELS_MB", "int", 4096, "total size of the files visitors bring (added models and "
       "`hf:` downloads), in MB; past it the least recently used go", 1, group="app"),
    _S("RESTORATION_OUTPUT_DIR", "path", None, "where the app keeps results (default: a new temporary folder)",
       group="app"),
    _S("RESTORATION_OUTPUT_TTL", "int", 3600, "seconds the app keeps a result", 1, group="app"),
    _S("RESTORATION_MCP", "flag", True, "serve the app's tools for AI agents over MCP (streamable HTTP at "
       "`/gradio_api/mcp/`); 0 turns it off", group="app"),
    _S("RESTORATION_AGENT_MAX_VIDEO_S", "float", 60.0, "the longest video, in seconds, an agent's `restore_video` "
       "call takes", 1, group="app"),
    _S("RESTORATION_FETCH_PRIVATE", "flag", False, "let URL inputs (agents' tools) reach private, loopback and "
       "link-local addresses: only for a server on a trusted network", group="app"),
    _S("RESTORATION_RUN_HISTORY", "flag", False, "let the browser keep each visitor's inputs and results "
       "(Gradio's run history): off, so that nothing of a photo stays in a shared or public computer's browser",
       group="app"),
    _S("RESTORATION_RAY_ADDRESS", "text", None, "run the app's batch and video jobs on Ray: a cluster address "
       "(`ray://head:10001`, `head:6379`) or `local` for an embedded Ray; `RESTORATION_OUTPUT_DIR` and "
       "`RESTORATION_MODELS_DIR` must then be on storage every node shares", group="app"),
)}


def _expected(s: Setting) -> str:
    if s.name == "RESTORATION_RAY_ADDRESS":
        return "local, auto, HEAD:6379 (on a node of the cluster) or ray://HEAD:10001 (Ray Client, from anywhere)"
    if s.choices is not None:
        return "one of " + ", ".join(s.choices)
    floor = f" of at least {s.minimum:g}" if s.minimum is not None else ""
    return {"int": f"a whole number{floor}", "float": f"a number{floor}", "flag": "1/true/yes/on or 0/false/no/off",
            "path": "a folder path", "text": "text"}[s.kind]


def get(name: str) -> Any:
    """The value of the setting ``name``: parsed from the environment, else its default.

    Raises ``ConfigError`` ("RESTORATION_QUEUE_SIZE='abc' is not valid: expected a whole number of at
    least 1 (default 32)") for a value that cannot be used, and ``KeyError`` for a name not in
    ``SETTINGS`` (a programming error).
    """
    s = SETTINGS[name]
    raw = os.environ.get(name, "").strip()
    if not raw:
        return s.default
    try:
        value = _parse(s, raw)
    except ValueError:
        default = "unset" if s.default is None else repr(s.default)
        raise ConfigError(f"{name}={raw!r} is not valid: expected {_expected(s)} (default {default}); "
                          f"fix or unset it") from None
    return value


_RAY_ADDRESS = re.compile(r"^(local|auto|ray://[\w.-]+(:\d+)?|[\w.-]+:\d+)$")


def _parse(s: Setting, raw: str) -> Any:
    if s.name == "RESTORATION_RAY_ADDRESS" and not _RAY_ADDRESS.match(raw):
        raise ValueError(raw)
    if s.choices is not None and raw not in s.choices:
        raise ValueError(raw)
    if s.kind == "flag":
        low = raw.lower()
        if low in _TRUE | _FALSE:
            return low in _TRUE
        raise ValueError(raw)
    if s.kind == "path":
        return Path(raw).expanduser()
    if s.kind == "text":
        return raw
    value = int(raw) if s.kind == "int" else float(raw)
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(raw)
    if s.minimum is not None and value < s.minimum:
        raise ValueError(raw)
    return value


def check_all(group: str | None = None) -> None:
    """Parse every setting (of ``group``) once, so a bad value stops a program at its start with one
    clear ``ConfigError`` instead of failing later in the middle of a job."""
    for name, s in SETTINGS.items():
        if group is None or s.group == group:
            get(name)


@dataclass
class AppSettings:
    """The app's settings (group "app", and the limits it applies), read once when it starts."""

    concurrency: int
    queue_size: int
    max_upload_mb: int
    max_video_mb: int
    max_batch_files: int
    max_model_mb: int
    output_ttl_s: int
    output_root: Path
    ray_address: str | None
    user_models: str
    user_models_mb: int
    mcp: bool = True
    run_history: bool = False


def app_settings() -> AppSettings:
    """Every setting checked (a bad one raises ``ConfigError`` now, not in the middle of a job), then
    the app's read; the results folder is made when none is set."""
    check_all()
    return AppSettings(get("RESTORATION_CONCURRENCY"), get("RESTORATION_QUEUE_SIZE"), get("RESTORATION_MAX_UPLOAD_MB"),
                       get("RESTORATION_MAX_VIDEO_MB"), get("RESTORATION_MAX_BATCH_FILES"),
                       get("RESTORATION_MAX_MODEL_MB"), get("RESTORATION_OUTPUT_TTL"), output_root(),
                       get("RESTORATION_RAY_ADDRESS"), get("RESTORATION_USER_MODELS"),
                       get("RESTORATION_USER_MODELS_MB"), get("RESTORATION_MCP"), get("RESTORATION_RUN_HISTORY"))


def on_zerogpu() -> bool:
    """Whether this process runs on a ZeroGPU Space: ``SPACES_ZERO_GPU``, set by the platform, or the
    ``spaces`` package's own ``spaces.config.Config.zero_gpu``."""
    if get("SPACES_ZERO_GPU"):
        return True
    try:
        from spaces.config import Config  # type: ignore[import-not-found]
    except ImportError:
        return False
    return bool(getattr(Config, "zero_gpu", False))


def cache_home() -> Path:
    """The user's cache folder: ``XDG_CACHE_HOME``, else ``~/.cache``."""
    return get("XDG_CACHE_HOME") or Path.home() / ".cache"


def added_models_dir() -> Path:
    """Where models people add are kept: ``RESTORATION_MODELS_DIR/uploads``, else
    ``~/.cache/restoration/models``."""
    root = get("RESTORATION_MODELS_DIR")
    return root / "uploads" if root is not None else cache_home() / "restoration" / "models"


def output_root() -> Path:
    """The app's results folder: ``RESTORATION_OUTPUT_DIR``, else a new temporary folder."""
    return get("RESTORATION_OUTPUT_DIR") or Path(tempfile.mkdtemp(prefix="restoration-app-"))
