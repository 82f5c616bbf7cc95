"""Model references: a catalogue id, a local weight file, or a file on the Hugging Face Hub.

``parse_ref`` reads what a user gave: ``realesrgan-x4plus`` (the catalogue), ``/models/4x-Foo.pth`` or
``./SPAN.safetensors`` (a file; a bare name is also looked for in ``RESTORATION_MODELS_DIR``),
``hf:owner/repo/path/to/file.safetensors`` with an optional
``@revision`` (a Hub file). Pure Python, no torch: options are checked with it before any work. What a
file holds (super-resolution, 1x restoration, face) is only known once spandrel has read it, so that
check happens where the model is loaded (``models.load_model``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from . import config
from .catalog import get_spec
from .errors import OptionError, UnknownModelError

WEIGHT_SUFFIXES = (".safetensors", ".pth", ".ckpt", ".pkl")  # .pkl: RIFE's flownet.pkl
_HUB = re.compile(r"^hf:(?P<repo>[\w.-]+/[\w.-]+)/(?P<file>[^@]+?)(?:@(?P<rev>[\w.-]+))?$")


@dataclass(frozen=True)
class ModelRef:
    """``kind`` catalog (``text`` is the id), file (``path``) or hub (``repo``, ``filename``, ``revision``)."""

    kind: Literal["catalog", "file", "hub"]
    text: str
    path: Path | None = None
    repo: str | None = None
    filename: str | None = None
    revision: str | None = None

    @property
    def name(self) -> str:
        """A short name for messages and menus: the id, or the file's name."""
        if self.kind == "catalog":
            return self.text
        return self.path.name if self.path is not None else Path(self.filename or "").name


def check_suffix(name: str, given: str) -> None:
    """``OptionError`` unless ``name`` is a weight file's name (TorchScript ``.pt`` is refused with why)."""
    suffix = Path(name).suffix.lower()
    if suffix == ".pt":
        raise OptionError(f"{given}: .pt files are TorchScript programs, which run code when loaded; use the "
                          "model as .safetensors (safest) or .pth")
    if suffix not in WEIGHT_SUFFIXES:
        raise OptionError(f"{given}: a model file must be .safetensors, .pth or .ckpt (RIFE: .pkl; got "
                          f"{suffix or 'no extension'})")


def looks_like_file(text: str) -> bool:
    return "/" in text or "\\" in text or Path(text).suffix.lower() in (*WEIGHT_SUFFIXES, ".pt")


def parse_ref(text: str) -> ModelRef:
    """What ``text`` points at. Raises ``OptionError`` for a Hub reference that is malformed, a file
    that does not exist or has the wrong kind of name (``.pt`` TorchScript is refused), and
    ``UnknownModelError`` for a name that is neither a catalogue id nor a file."""
    if not isinstance(text, str) or not text.strip():
        raise OptionError(f"{text!r} is not a model: give a catalogue id, a weight file or hf:owner/repo/file")
    text = text.strip()
    if text.startswith("hf:"):
        m = _HUB.match(text)
        if not m:
            raise OptionError(f"{text}: a Hub model is written hf:owner/repo/path/to/file.safetensors "
                              "(optionally @revision)")
        check_suffix(m["file"], text)
        return ModelRef("hub", text, repo=m["repo"], filename=m["file"], revision=m["rev"])
    if not looks_like_file(text):
        get_spec(text)  # UnknownModelError lists the known ids
        return ModelRef("catalog", text)
    path = Path(text).expanduser()
    check_suffix(path.name, text)
    if not path.is_file() and path.parent == Path("."):  # a bare name: the models folder's, or an added model
        root = config.get("RESTORATION_MODELS_DIR")
        path = next((p for p in ((root / path.name) if root else None, config.added_models_dir() / path.name)
                     if p is not None and p.is_file()), path)
    if not path.is_file():
        raise OptionError(f"{text}: no such model file")
    return ModelRef("file", text, path=path.resolve())


def check_ref(text: str, option: str) -> None:
    """``parse_ref`` with the option's name in the message (for ``RestoreOptions``)."""
    try:
        parse_ref(text)
    except UnknownModelError as e:
        raise OptionError(f"{option}: {e}; or give a weight file (.safetensors, .pth) or hf:owner/repo/file") \
            from None
    except OptionError as e:
        raise OptionError(f"{option}: {e}") from None


def check_not_a_path(text: object, option: str) -> None:
    """``OptionError`` when ``text`` names a file by its path: a server's files are not for its
    visitors to name. A catalogue id, a file name in the models folder (or an added model's name)
    and ``hf:owner/repo/file`` pass."""
    if isinstance(text, str) and not text.startswith("hf:") and ("/" in text or "\\" in text):
        raise OptionError(f"{option}={text!r}: give a catalogue id, the name of a file in the models folder, "
                          "or hf:owner/repo/file, not a path on the server")
