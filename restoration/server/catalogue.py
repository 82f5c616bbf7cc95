"""What a server offers: its model menus, its catalogue with where each model is, and its About text."""

from __future__ import annotations

from typing import Any

from ..catalog import list_models
from ..weights import availability
from .visitors import added_models

# The upscalers "auto" chooses from, best first: the general photo network, then the fast ones.
UPSCALERS = ("realesrgan-x4plus", "realesr-general-x4v3", "realesrgan-x2plus", "realesr-animevideov3",
             "realesrgan-x4plus-anime")
AVAILABLE = {"local": "on this server (models folder)", "cache": "on this server (downloaded)",
             "download": "downloads on first use", "unavailable": "not available on this server"}


def usable(model_id: str) -> bool:
    """Whether a job may use ``model_id`` here: on this server, or downloadable now."""
    return availability(model_id) in ("local", "cache", "download")


def best_available(task: str) -> str | None:
    """The best model of ``task`` this server can use (upscalers in ``UPSCALERS`` order, others in the
    catalogue's), or None when it has none; non-commercial models are never chosen."""
    ids = [s.id for s in list_models(task) if s.commercial_use]
    ranked = [m for m in UPSCALERS if m in ids] + [m for m in ids if m not in UPSCALERS]
    return next((m for m in ranked if usable(m)), None)


def menu_choices(task: str) -> list[tuple[str, str]]:
    """A model menu's (label, value) choices: "off" for faces or "nlm" for the denoiser, the
    catalogue's models of ``task`` (non-commercial ones labelled so), then the added ones."""
    first = {"face-restoration": [("off", "off")], "restoration": [("nlm", "nlm")]}.get(task, [])
    catalogue = [(s.label, s.id) for s in list_models(task)]
    added = [(f"{i['file']} ({i['architecture']} x{i['scale']}, added)", i["name"]) for i in added_models()
             if i["task"] == task]
    return [*first, *catalogue, *added]


def catalogue() -> list[dict[str, Any]]:
    """The catalogue, each model with ``available`` (here, downloaded on first use, or not
    available), then the models added to this server (``source`` "added")."""
    added = [{**info, "id": info["name"], "available": AVAILABLE["local"]} for info in added_models()]
    return [{**s.to_dict(), "available": AVAILABLE[availability(s.id)]} for s in list_models()] + added


def about_text(versions: dict[str, str]) -> str:
    """The server's device, ``versions`` and model table, as Markdown (where each model is now)."""
    import torch

    from .._version import __version__

    dev = f"CUDA: {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else "CPU (no CUDA GPU found)"
    names = " · ".join(f"**{k}** {v}" for k, v in {"restoration": __version__, "torch": torch.__version__,
                                                     **versions}.items())
    rows = "\n".join(f"| `{s.id}` | {s.task} | x{s.scale} | {AVAILABLE[availability(s.id)]} | {s.license} | "
                     f"{s.source} |" for s in list_models())
    return (f"**Device:** {dev} · {names}\n\n| model | task | scale | here? | license | source |\n"
            f"|---|---|---|---|---|---|\n{rows}\n\nA model that is not on this server downloads from the Hugging "
            "Face Hub the first time a job needs it, and stays cached.")
