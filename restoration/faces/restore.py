"""Running a face restoration network on aligned 512 px crops, each by its own call contract.

- GFPGAN and CodeFormer work in [-1, 1]: spandrel's wrapper hands them the [0, 1] tensor unchanged,
  so the input is ``2 x - 1`` and the output is mapped back with ``(y + 1) / 2``. GFPGAN gets
  ``randomize_noise=False``: the same face restores the same way every time (and every video frame).
- CodeFormer's fidelity is its keyword ``weight`` (0: restored, 1: faithful to the input).
- RestoreFormer normalises by itself through spandrel's call.
For GFPGAN and RestoreFormer the fidelity is a blend toward the unrestored face.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from ..errors import OptionError
from ..models import LoadedModel


def fidelity_for(model: LoadedModel, fidelity: float | None) -> float:
    """The fidelity used: the one given, else the architecture's default."""
    return model.traits.default_fidelity if fidelity is None else fidelity


def face_network(model: LoadedModel, fidelity: float | None) -> Callable[[torch.Tensor], torch.Tensor]:
    """A function from aligned crops (N, 3, 512, 512) in [0, 1] to restored ones (float32, [0, 1]).

    Raises ``OptionError`` when ``model`` is not a face restoration model.
    """
    if model.spec.task != "face-restoration":
        raise OptionError(f"{model.spec.id} is a {model.spec.task} model, not a face restoration model; "
                          "use gfpgan-v1.4, restoreformer or codeformer as the face model")
    call, net, w = model.traits.face_call, model.descriptor.model, fidelity_for(model, fidelity)

    def run(crops: torch.Tensor) -> torch.Tensor:
        x = crops.to(device=model.device, dtype=model.dtype)
        with torch.inference_mode():
            if call == "codeformer":
                y = (net(2 * x - 1, weight=w)[0] + 1) / 2
            elif call == "gfpgan":
                y = (net(2 * x - 1, return_rgb=False, randomize_noise=False)[0] + 1) / 2
            else:
                y = torch.cat([model.descriptor(x[i : i + 1]) for i in range(x.shape[0])])
            y = y.float().clamp_(0, 1)
            if call != "codeformer" and w > 0:
                y = y + (crops.to(y) - y) * w
        return y

    return run
