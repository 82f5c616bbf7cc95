"""What a server offers: its model menus (each choice saying whether it can be had here), stand-ins for
the models a preset or a default names that this server lacks, its catalogue as data and as a table
people read (on a phone too), and its About text."""

from __future__ import annotations

import html
from typing import Any

from ..catalog import get_spec, list_models
from ..errors import UnknownModelError
from ..options import RestoreOptions
from ..weights import availability
from .visitors import added_models, visitor_options

# The upscalers "auto" chooses from, best first: the general photo network, then the fast ones.
UPSCALERS = ("realesrgan-x4plus", "realesr-general-x4v3", "realesrgan-x2plus", "realesr-animevideov3",
             "realesrgan-x4plus-anime")
AVAILABLE = {"local": "on this server (models folder)", "cache": "on this server (downloaded)",
             "download": "downloads on first use", "unavailable": "not available on this server"}
SHORT = {"local": "on this server", "cache": "on this server", "download": "downloads on first use",
         "unavailable": "not available here"}
# The nearest stand-in for a model this server lacks, best first (a non-commercial model never stands in).
NEAREST = {
    "realesrgan-x4plus": ("realesr-general-x4v3", "realesrgan-x2plus", "realesr-animevideov3"),
    "realesrgan-x2plus": ("realesrgan-x4plus", "realesr-general-x4v3", "realesr-animevideov3"),
    "realesr-general-x4v3": ("realesr-animevideov3", "realesrgan-x4plus", "realesrgan-x2plus"),
    "realesr-animevideov3": ("realesr-general-x4v3", "realesrgan-x4plus-anime", "realesrgan-x4plus"),
    "realesrgan-x4plus-anime": ("realesr-animevideov3", "realesrgan-x4plus", "realesr-general-x4v3"),
    "gfpgan-v1.4": ("restoreformer",), "restoreformer": ("gfpgan-v1.4",),
    "ddcolor": ("ddcolor-tiny", "ddcolor-artistic"), "ddcolor-artistic": ("ddcolor", "ddcolor-tiny"),
    "ddcolor-tiny": ("ddcolor", "ddcolor-artistic"), "drunet-color": ("scunet-real",), "scunet-real": ("drunet-color",),
}


def usable(model_id: str) -> bool:
    """Whether a job may use ``model_id`` here: on this server, or downloadable now. A model that is not
    in the catalogue (a file, ``hf:``, an added one) counts as usable: its own errors say otherwise."""
    try:
        get_spec(model_id)
    except UnknownModelError:
        return True
    return availability(model_id) in ("local", "cache", "download")


def best_available(task: str) -> str | None:
    """The best model of ``task`` this server can use (upscalers in ``UPSCALERS`` order, others in the
    catalogue's), or None when it has none; non-commercial models are never chosen."""
    ids = [s.id for s in list_models(task) if s.commercial_use]
    ranked = [m for m in UPSCALERS if m in ids] + [m for m in ids if m not in UPSCALERS]
    return next((m for m in ranked if usable(m)), None)


def _stand_in(model_id: str, task: str) -> str | None:
    return next((m for m in NEAREST.get(model_id, ()) if usable(m)), None) or (
        best_available(task) if task == "super-resolution" else None)


def visitor_job(given: dict[str, Any]) -> tuple[RestoreOptions, list[str]]:
    """The current visitor's options (``visitors.visitor_options``) with every model they did not name that
    this server lacks replaced by its nearest stand-in here (``for_here``); returns (options, notes)."""
    return for_here(visitor_options(given), {k for k, v in given.items() if v is not None})


def for_here(options: RestoreOptions, given: set[str]) -> tuple[RestoreOptions, list[str]]:
    """``options`` with every model it names that this server cannot use, and that the visitor did not
    name themselves (``given``: the option names they gave), replaced by its nearest stand-in here, or
    its stage turned off when there is none; and a note for each change, in the visitor's words."""
    o, changes, notes = options, {}, []
    if o.does_superres and "model" not in given and not usable(o.model):
        alt = _stand_in(o.model, "super-resolution")
        changes.update(model=alt) if alt else changes.update(upscale=0)
        notes.append(f"the upscaler {o.model} is not on this server: " + (f"{alt} instead" if alt else
                                                                            "no upscaling"))
    if o.face != "off" and "face" not in given and not (usable(o.face) and usable("yunet")):
        alt = _stand_in(o.face, "face-restoration") if usable("yunet") else None
        changes["face"] = alt or "off"
        notes.append(f"the face model {o.face} is not on this server: " + (f"{alt} instead" if alt else "faces off"))
    elif o.face != "off" and o.face_mask == "parse" and "face_mask" not in given and not usable("face-parsing"):
        changes["face_mask"] = "box"
        notes.append("the face-parsing model is not on this server: box masks")
    if o.colorize != "off" and not {"color_model", "colorize"} & given and not usable(o.color_model):
        alt = _stand_in(o.color_model, "colorization")
        changes.update(color_model=alt) if alt else changes.update(colorize="off")
        notes.append(f"the colorizer {o.color_model} is not on this server: " + (
            f"{alt} instead" if alt else "black-and-white pictures stay black and white"))
    if o.denoises and o.denoise_model != "nlm" and "denoise_model" not in given and not usable(o.denoise_model):
        changes["denoise_model"] = _stand_in(o.denoise_model, "restoration") or "nlm"
        notes.append(f"the denoiser {o.denoise_model} is not on this server: {changes['denoise_model']} instead")
    return (o.with_(**changes) if changes else o), notes


def menu_choices(task: str) -> list[tuple[str, str]]:
    """A model menu's (label, value) choices: "off" for faces or "nlm" for the denoiser, the
    catalogue's models of ``task``, each saying whether it is on this server, downloads on first use or
    cannot be had here (non-commercial ones labelled so), then the visitor's added ones, by their file
    names."""
    first = {"face-restoration": [("off", "off")], "restoration": [("nlm", "nlm")]}.get(task, [])
    catalogue_ = [(f"{s.label} · {SHORT[availability(s.id)]}", s.id) for s in list_models(task)]
    added = [(f"{i['file']} ({i['architecture']} x{i['scale']}, added)", i["name"]) for i in added_models()
             if i["task"] == task]
    return [*first, *catalogue_, *added]


def catalogue() -> list[dict[str, Any]]:
    """The catalogue, each model with ``available`` (here, downloaded on first use, or not
    available), then the models the visitor added (``source`` "added", by their file names)."""
    added = [{**info, "id": info["name"], "available": AVAILABLE["local"]} for info in added_models()]
    return [{**s.to_dict(), "available": AVAILABLE[availability(s.id)]} for s in list_models()] + added


def commercial(model: dict[str, Any]) -> str:
    """Whether a model may be used commercially, honestly: yes, no, or unknown (a visitor's file)."""
    value = model.get("commercial_use")
    return "unknown" if value is None else "yes" if value else "no"


def catalogue_html(models: list[dict[str, Any]]) -> str:
    """``catalogue()`` as an HTML table people read: one row a model (id, what it does, here?, licence,
    commercial use); on a narrow screen each row becomes a card of labelled lines (``TABLE_CSS``)."""
    head = ("model", "what it does", "here", "licence", "commercial use")
    rows = []
    for m in models:
        what = m.get("description") or f"{m.get('architecture')} x{m.get('scale')} ({m.get('task')})"
        cells = (m["id"], what, m["available"], m.get("license") or "unknown", commercial(m))
        rows.append("<tr>" + "".join(f'<td data-label="{h}">{html.escape(str(c))}</td>' for h, c in zip(head, cells))
                    + "</tr>")
    return ('<table class="models-table"><thead><tr>' + "".join(f"<th>{h}</th>" for h in head) +
            "</tr></thead><tbody>" + "".join(rows) + "</tbody></table>")


TABLE_CSS = """
.models-table { border-collapse: collapse; width: 100%; font-size: 0.9em; }
.models-table th, .models-table td { text-align: left; padding: 4px 8px; vertical-align: top;
  word-break: normal; overflow-wrap: anywhere; hyphens: none; }
.models-table td:first-child { white-space: nowrap; font-family: monospace; }
@media (max-width: 640px) {
  .models-table thead { display: none; }
  .models-table tr { display: block; border-bottom: 1px solid #8884; padding: 6px 0; }
  .models-table td { display: block; padding: 1px 4px; border: none; }
  .models-table td::before { content: attr(data-label) ": "; font-weight: 600; }
  .models-table td:first-child { white-space: normal; }
}
"""


def about_text(versions: dict[str, str]) -> str:
    """The server's device and ``versions``, as Markdown."""
    import torch

    from .._version import __version__

    dev = f"CUDA: {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else "CPU (no CUDA GPU found)"
    names = " · ".join(f"**{k}** {v}" for k, v in {"restoration": __version__, "torch": torch.__version__,
                                                     **versions}.items())
    return f"**Device:** {dev} · {names}"
