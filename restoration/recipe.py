"""The stages of a job, as one table: what runs, in which order, with which models, at what cost.

``STAGES`` lists each stage once: its name, when it runs (``runs(options, monochrome)``), the models it
needs (``needs(options)``: (option, model id) pairs) and the role its network loads as, how much work
it does (``work``: megapixels of its input, every pass of the upscaler with its tiles' context, or
frames for the stages whose networks run at a fixed size) and how to run it (``run(job, flow, step)``).
Everything that follows a job's plan reads this table: ``Restorer.run`` (the order), the models a
job needs before its first stage, this machine's time estimate (``cost.measured``) and the reference
GPU's (``cost.reference``). A stage's picture size is the one the stages before it leave.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .options import RestoreOptions

TILE_CONTEXT = 1.15  # the share of extra pixels tiles compute when no tile plan is known (their context)
_COLOR_BATCH = 8  # frames per pass through the colorization network on a GPU


@dataclass(frozen=True)
class Stage:
    """One stage of the table (see the module)."""

    name: str
    runs: Callable[[RestoreOptions, bool], bool]
    needs: Callable[[RestoreOptions], list[tuple[str, str]]]
    role: str | None  # the network it loads (``Restorer.model(role)``), None for none
    per_frame: bool  # its work is counted in frames (a network at a fixed size), else in megapixels
    run: Callable[[Any, Any, Callable[[float, int], None]], None]

    def work(self, options: RestoreOptions, height: int, width: int, frames: int = 1, *, scale: int = 4,
             tile: int | None = None) -> float:
        """The work of ``frames`` pictures of ``height`` x ``width`` (this stage's input): frames, or
        megapixels computed; the upscaler counts each of its passes (of a x``scale`` network) with the
        context its tiles compute (``tile`` None: ``TILE_CONTEXT`` more)."""
        if self.per_frame:
            return float(frames)
        if self.name != "superres":
            return height * width * frames / 1e6
        from .stages import plan_passes
        from .tiling import computed_pixels

        total = 0.0
        for p in range(plan_passes(scale, options.upscale)):
            size = (height * scale ** p, width * scale ** p)
            total += computed_pixels(size, tile, options.tile_pad) if tile else size[0] * size[1] * TILE_CONTEXT
        return frames * total / 1e6


def _denoise(job: Any, f: Any, step: Callable[[float, int], None]) -> None:
    from . import stages

    if job.options.denoise_model == "nlm":
        f.x = stages.denoise(f.x, f.report.denoise)
        return
    model = job.model("denoise")
    tile, pieces = job.tiles.plan(model, tuple(f.x.shape[-2:]))
    f.report.models["denoise"] = job.models.shown(model.spec.id)
    f.x = stages.denoise_with(model, f.x, f.report.denoise, tile=tile, pad=job.options.tile_pad, batch=pieces,
                              progress=step)


def _superres(job: Any, f: Any, step: Callable[[float, int], None]) -> None:
    import torch

    from . import stages

    f.source = f.x
    model = job.model("superres")
    tile, pieces = job.superres_tiles(*f.x.shape[-2:])
    f.report.tile = tile
    f.report.models["superres"] = job.models.shown(model.spec.id)
    src = f.x * f.alpha if f.alpha is not None else f.x  # premultiplied: no dark fringe at edges
    out = stages.superres(src, model, model.scale, job.options.upscale, tile=tile, pad=job.options.tile_pad,
                          batch=pieces, progress=step)
    if f.alpha is not None:
        f.alpha = stages.resize(f.alpha, tuple(out.shape[-2:])).clamp_(0, 1)
        out = torch.where(f.alpha > 1 / 255, out / f.alpha.clamp(min=1 / 255), out).clamp_(0, 1)
    f.x = out


def _faces(job: Any, f: Any, step: Callable[[float, int], None]) -> None:
    source = f.source if f.source is not None else f.x
    f.x, f.report.faces = job.faces(source, f.x, keep_chroma=f.monochrome, track=f.track, cuts=f.cuts)
    if f.report.faces.restored:
        f.report.models["faces"] = job.models.shown(job.options.face)


def _colorize(job: Any, f: Any, step: Callable[[float, int], None]) -> None:
    import torch

    from . import stages

    model = job.model("colorize")
    f.report.models["colorize"] = job.models.shown(model.spec.id)
    per_call = _COLOR_BATCH if job.device.type == "cuda" else 1  # a CPU gains nothing from batches
    f.x = torch.cat([stages.colorize(f.x[i : i + per_call], model, model.spec.input_size or 512)
                     for i in range(0, f.x.shape[0], per_call)])
    f.report.colorized = True


def _sharpen(job: Any, f: Any, step: Callable[[float, int], None]) -> None:
    from . import stages

    f.x = stages.sharpen(f.x, job.options.sharpen)


def _face_models(o: RestoreOptions) -> list[tuple[str, str]]:
    return [("face", o.face), ("face", "yunet"), *([("face_mask", "face-parsing")] if o.face_mask == "parse" else [])]


STAGES: tuple[Stage, ...] = (
    Stage("denoise", lambda o, mono: o.denoises,
          lambda o: [("denoise_model", o.denoise_model)] if o.denoise_model != "nlm" else [], "denoise", False,
          _denoise),
    Stage("superres", lambda o, mono: o.does_superres, lambda o: [("model", o.model)], "superres", False, _superres),
    Stage("faces", lambda o, mono: o.face != "off", _face_models, "face", True, _faces),
    Stage("colorize", lambda o, mono: o.colorizes(mono), lambda o: [("color_model", o.color_model)], "colorize",
          True, _colorize),
    Stage("sharpen", lambda o, mono: o.sharpen > 0, lambda o: [], None, False, _sharpen),
)
BY_NAME = {s.name: s for s in STAGES}


def planned(options: RestoreOptions, monochrome: bool | None) -> list[Stage]:
    """The stages a picture goes through, in order (``monochrome`` None: not known, so ``colorize="auto"``
    does not count)."""
    return [s for s in STAGES if s.runs(options, bool(monochrome))]


def sizes(options: RestoreOptions, height: int, width: int, monochrome: bool | None) -> list[tuple[Stage, int, int]]:
    """Each planned stage with the picture size it is given (the upscaler's output after it)."""
    out = []
    for stage in planned(options, monochrome):
        out.append((stage, height, width))
        if stage.name == "superres":
            height, width = round(height * options.upscale), round(width * options.upscale)
    return out


def needed_models(options: RestoreOptions, monochrome: bool | None) -> list[tuple[str, str]]:
    """(option, model) for every network a job of ``options`` needs: the upscaler, a neural denoiser,
    the face model with its detector (and its parser for ``face_mask="parse"``), and the colorizer
    when it will run (``colorize="auto"``: only for a ``monochrome`` picture; None: not known yet)."""
    return [need for stage in planned(options, monochrome) for need in stage.needs(options)]


def roles(options: RestoreOptions, monochrome: bool | None) -> list[str]:
    """The networks (``Restorer.model`` roles) a job loads."""
    return [s.role for s in planned(options, monochrome) if s.role is not None and s.needs(options)]
