"""What the code must know about each network architecture, written once.

A loaded model carries the ``Traits`` of its architecture (``models.LoadedModel.traits``), chosen when
it loads; no other module tests an architecture's name. An architecture missing here gets
``DEFAULT``: an image-to-image network of the usual kind, its memory measured on first use on a GPU.
Pure Python, no torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

FaceCall = Literal["descriptor", "gfpgan", "codeformer"]


@dataclass(frozen=True)
class Traits:
    """One architecture's call contract and costs.

    Call contract:
      ``noise_plane``: takes the noise level as a fourth input plane (a noise-conditioned denoiser);
      ``stateful``: keeps state on the module during a call (encoder hooks), so calls are serialised;
      ``face_call``: how a face network is called: through spandrel's descriptor, or directly in
      [-1, 1] with GFPGAN's or CodeFormer's own arguments;
      ``default_fidelity``: a face network's fidelity when none is given (0: its own face).
    Where it comes from:
      ``extra``: an architecture of ``spandrel_extra_arches`` (its licences are non-commercial);
      ``task``: the task a file of it has whatever spandrel calls its purpose (None: from the purpose).
    Cost:
      ``bytes_per_pixel``: peak activation bytes per input pixel of one call at fp32, by scale
      (0: any scale), measured on the CPU with the full-size networks by
      ``python benchmarks/activation_memory.py``; empty: unknown, measured on a GPU at first use.
    """

    noise_plane: bool = False
    stateful: bool = False
    face_call: FaceCall = "descriptor"
    default_fidelity: float = 0.0
    extra: bool = False
    task: str | None = None
    bytes_per_pixel: dict[int, float] = field(default_factory=dict)

    def activation_bytes(self, scale: int) -> float | None:
        """Peak activation bytes per input pixel at fp32 for a x``scale`` network, or None (unknown)."""
        return self.bytes_per_pixel.get(scale, self.bytes_per_pixel.get(0))


DEFAULT = Traits()
# Measured (two runs): x4plus 14.9-16.5 kB, x4plus-anime 14.2 kB, x2plus 5.0-5.7 kB, general-x4v3
# 1.8-2.0 kB, animevideov3 1.5-1.8 kB per input pixel.
TRAITS: dict[str, Traits] = {
    "ESRGAN": Traits(bytes_per_pixel={4: 16000, 2: 6000, 1: 3000}),
    "Compact": Traits(bytes_per_pixel={0: 2000}),
    "DRUNet": Traits(noise_plane=True),
    "DDColor": Traits(stateful=True, extra=True, task="colorization"),
    "GFPGAN": Traits(face_call="gfpgan"),
    "CodeFormer": Traits(face_call="codeformer", default_fidelity=0.5, extra=True),
    "RestoreFormer": Traits(),
}


def traits(architecture: str) -> Traits:
    """The traits of ``architecture`` (a spandrel architecture id), ``DEFAULT`` when it has none here."""
    return TRAITS.get(architecture, DEFAULT)


def default_fidelity(face: str | None) -> float:
    """The fidelity a face model runs at when none is given: its architecture's default for a
    catalogue id, 0 for a file (known only once loaded) and for "off"."""
    from .catalog import get_spec
    from .errors import UnknownModelError

    try:
        return traits(get_spec(face or "off").architecture).default_fidelity
    except UnknownModelError:
        return 0.0
