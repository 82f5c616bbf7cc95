"""What one model of the catalogue is (``ModelSpec``) and the kinds of work a model does (``Task``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

Task = Literal["super-resolution", "restoration", "colorization", "face-restoration", "face-detection", "face-parsing",
               "interpolation"]

@dataclass(frozen=True)
class ModelSpec:
    """One downloadable network.

    ``architecture`` is the spandrel architecture id the weights must load as; a file that spandrel
    detects as anything else is refused. ``sha256`` is the upstream release file's checksum where one
    is known; where it is not (``None``) the first verified download's hash is recorded beside the
    cached file and checked from then on. ``tile`` is the default tile edge in input pixels on a GPU
    (0 = whole image); ``input_size`` is the fixed square size a colorization or face network runs at.
    ``companions`` are small files that live beside the weights in the same Hub folder (a
    ``config.json``); ``commercial_use`` is False where the licence forbids it (such a model is never a
    default, and every surface that offers it says so). ``member``: where the Hub holds only a zip
    archive, the weight file inside it (the archive's hash is the one checked; the member is unpacked
    once beside the cache and nothing else in the archive is read).
    """

    id: str
    task: Task
    architecture: str
    scale: int
    hub_repo: str | None
    filename: str
    revision: str | None
    sha256: str | None
    license: str
    supports_half: bool
    supports_bf16: bool
    source: str
    description: str
    size_bytes: int | None = None
    tile: int = 512
    input_size: int | None = None
    companions: tuple[str, ...] = ()
    commercial_use: bool = True
    sha256_prefix: str | None = None  # where only the start of the upstream hash is known
    member: str | None = None

    @property
    def label(self) -> str:
        """The id, with "(non-commercial)" where the licence says so: what menus show."""
        return self.id if self.commercial_use else f"{self.id} (non-commercial)"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
