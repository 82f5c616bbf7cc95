"""Gradio app: Image, Video, Batch and Models tabs over the ``restoration`` library.

Handlers stay thin: widgets -> RestoreOptions -> library -> outputs. Every event has an explicit
``api_name`` (names shared with ``client/``), so the browser and remote programs use the same queued
endpoints. Run with ``python app.py`` (``GRADIO_SERVER_NAME``/``GRADIO_SERVER_PORT`` as usual).
"""

from __future__ import annotations

import logging
import math
import re
import shutil
import sys
import threading
import time
import uuid
import zipfile
from pathlib import Path
from typing import Any

import gradio as gr
import numpy as np

import restoration
from client.endpoints import (
    ADD_MODEL,
    LIST_MODELS,
    OPTION_PARAMS,
    REMOVE_MODEL,
    RESTORE_BATCH,
    RESTORE_IMAGE,
    RESTORE_VIDEO,
    api_name,
    field,
)
from restoration import OptionError, RestorationError, RestoreOptions, config, uploads
from restoration.batch import restore_folder, unpack_images
from restoration.catalog import get_spec, list_models, model_ids
from restoration.media import FORMAT_EXT, INPUT_EXTENSIONS, ImageData, read_image, write_image
from restoration.metrics import resize_to
from restoration.options import FIELDS, NO_PRESET, PRESETS, build_options, build_video_options
from restoration.video import discard_parts, restore_video

log = logging.getLogger("restoration.app")

PREVIEW_MAX_SIDE = 2048
EXAMPLES_DIR = Path(__file__).resolve().parent / "examples"


class Settings:
    """The app's environment settings (``restoration.config``), read when the app is built."""

    def __init__(self) -> None:
        config.check_all()
        self.concurrency = config.get("RESTORATION_CONCURRENCY")
        self.queue_size = config.get("RESTORATION_QUEUE_SIZE")
        self.max_upload_mb = config.get("RESTORATION_MAX_UPLOAD_MB")
        self.max_video_mb = config.get("RESTORATION_MAX_VIDEO_MB")
        self.max_batch_files = config.get("RESTORATION_MAX_BATCH_FILES")
        self.max_model_mb = config.get("RESTORATION_MAX_MODEL_MB")
        self.output_ttl_s = config.get("RESTORATION_OUTPUT_TTL")
        self.output_root = config.output_root()
        self.ray_address = config.get("RESTORATION_RAY_ADDRESS")


SETTINGS: Settings | None = None  # set by build_app


def settings() -> Settings:
    global SETTINGS
    if SETTINGS is None:
        SETTINGS = Settings()
    return SETTINGS

try:  # ZeroGPU on Hugging Face Spaces: GPU work runs inside a spaces.GPU function.
    import spaces  # type: ignore[import-not-found]

    gpu = spaces.GPU(duration=120)
    gpu_long = spaces.GPU(duration=600)
except ImportError:  # anywhere else: a no-op

    def gpu(fn):  # type: ignore[no-redef]
        return fn

    gpu_long = gpu


class UploadedImage(gr.Image):
    """An image input that hands the uploaded file to the library untouched.

    ``gr.Image`` re-decodes uploads with PIL (dropping 16-bit depth, and failing with a stack of
    component errors on a bad file); here the library's own decoder reads the original bytes, keeps
    bit depth, ICC and EXIF, and words the error if the file is not an image.
    """

    @classmethod
    def get_block_name(cls) -> str:
        return "image"

    def preprocess(self, payload: Any) -> str | None:
        if payload is None:
            return None
        if getattr(payload, "url", None) and str(payload.url).startswith("data:"):
            return super().preprocess(payload)  # pasted/webcam data URL: let gradio decode it
        return str(payload.path) if payload.path else None


def _naming_errors(base: type, block: str) -> type:
    """``base`` whose input errors (from API calls) start with the widget's label, e.g. "Format: Value:
    exe is not in the list of choices"; gradio's own messages do not say which input was wrong."""

    class Named(base):
        @classmethod
        def get_block_name(cls) -> str:
            return block

        def preprocess(self, payload: Any) -> Any:
            try:
                return super().preprocess(payload)
            except Exception as e:  # noqa: BLE001 - gradio raises its own Error, or a TypeError
                raise gr.Error(f"{self.label}: {e}".replace("'", "")) from None

    Named.__name__ = Named.__qualname__ = base.__name__
    return Named


Dropdown = _naming_errors(gr.Dropdown, "dropdown")
Radio = _naming_errors(gr.Radio, "radio")


class Slider(_naming_errors(gr.Slider, "slider")):
    """A slider that takes ``None`` as "not given" (its value in the API's schema is then None, so a
    caller who leaves it out keeps the preset's value) and refuses what is not a number (NaN, text,
    lists) with a message naming it."""

    def preprocess(self, payload: Any) -> float | None:
        if payload is None:
            return None
        if isinstance(payload, bool) or not isinstance(payload, (int, float)) or math.isnan(payload):
            raise gr.Error(f"{self.label}: expected a number from {self.minimum:g} to {self.maximum:g}, "
                           f"got {str(payload)[:40]!r}")
        return super().preprocess(payload)

    def postprocess(self, value: float | None) -> float | None:
        return None if value is None else super().postprocess(value)


# --- helpers -----------------------------------------------------------------------------------
def _cluster() -> str | None:
    """Where batch and video jobs run: None (in this process), or the Ray address of
    ``RESTORATION_RAY_ADDRESS`` ("local" starts an embedded Ray)."""
    return settings().ray_address


def _job_dir() -> Path:
    """A fresh folder for one request's outputs; folders older than the TTL are removed."""
    root, ttl = settings().output_root, settings().output_ttl_s
    root.mkdir(parents=True, exist_ok=True)
    now = time.time()
    for old in root.iterdir():
        try:
            if now - old.stat().st_mtime > ttl:
                shutil.rmtree(old, ignore_errors=True)
        except OSError:
            pass
    d = root / uuid.uuid4().hex
    d.mkdir()
    return d


def _given(args: dict[str, Any]) -> dict[str, Any]:
    """The restoration options among an endpoint's arguments (its ``locals()``)."""
    return {k: args[k] for k in OPTION_PARAMS if k != "preset"}


def _options(preset: str | None, **given: Any) -> RestoreOptions:
    """The library's ``build_options``: the preset, then the values given (None = not given); files
    the app writes are PNG unless a format is given."""
    for name in ("model", "face", "denoise_model"):  # the server's own files are not for callers to name
        value = given.get(name)
        if isinstance(value, str) and not value.startswith("hf:") and ("/" in value or "\\" in value):
            raise OptionError(f"{name}={value!r}: the app takes a catalogue id, the name of a file in its models "
                              "folder, or hf:owner/repo/file, not a path on the server")
    opts = build_options(preset, **given)
    return opts if opts.output_format else opts.with_(output_format="png")


def _check_upload(path: str | None, what: str = "image", limit_mb: int | None = None) -> Path:
    if not path:
        raise gr.Error(f"No {what} given: upload one first.")
    p = Path(path)
    if not p.is_file():
        raise gr.Error(f"The uploaded {what} could not be found on the server; upload it again.")
    limit_mb = limit_mb or settings().max_upload_mb
    if p.stat().st_size > limit_mb << 20:
        raise gr.Error(f"{p.name} is larger than the {limit_mb} MB upload limit.")
    return p


def _preview(img: np.ndarray, name: Path) -> str:
    h, w = img.shape[:2]
    f = min(1.0, PREVIEW_MAX_SIDE / max(h, w))
    small = resize_to(img, (max(1, round(w * f)), max(1, round(h * f)))) if f < 1 else img
    write_image(ImageData(np.ascontiguousarray(small[..., :3])), name, output_format="webp", quality=90)
    return str(name)


def _user_error(e: Exception) -> gr.Error:
    if isinstance(e, OptionError):  # "model: ..." -> "Upscaler: model: ...", the widget the user sees
        name = re.match(r"(\w+)[=:]", str(e))
        label = field(name[1]).label if name and name[1] in FIELDS else None
        return gr.Error(f"{label}: {e}" if label else str(e))
    if isinstance(e, RestorationError):
        return gr.Error(str(e))
    log.exception("unexpected failure")
    return gr.Error(f"Internal error ({type(e).__name__}); the server is fine, try again or report it.")


def _progress(progress: gr.Progress):
    return lambda fraction, message: progress(fraction, desc=message)


# --- endpoints ---------------------------------------------------------------------------------
# Every option argument defaults to None ("not given"): the API's schema then shows None, and a caller
# who leaves an option out keeps the preset's value.
@gpu
def restore_image_endpoint(image: str | None, preset: str | None = None, upscale: float | None = None,
                           model: str | None = None, denoise: float | None = None, colorize: str | None = None,
                           color_model: str | None = None, sharpen: float | None = None,
                           output_format: str | None = None, face: str | None = None,
                           face_fidelity: float | None = None, face_mask: str | None = None,
                           denoise_model: str | None = None, progress: gr.Progress = gr.Progress()):
    """Restore one image. Returns (before/after preview pair, full-resolution file, metrics)."""
    src = _check_upload(image)
    job = None
    try:
        opts = _options(preset, **_given(locals()))
        data = read_image(src, name=src.name)
        result = restoration.restore_image(data, opts, progress=_progress(progress))
        job = _job_dir()
        stem = Path(src.name).stem or "image"
        out = write_image(result.image, job / f"{stem}_restored{FORMAT_EXT[opts.output_format]}",
                          output_format=opts.output_format, quality=opts.quality, record=result.record())
        after = _preview(result.image.pixels, job / "after.webp")
        size = (result.image.pixels.shape[1], result.image.pixels.shape[0])
        before = _preview(resize_to(data.pixels, size), job / "before.webp")
        faces = _face_previews(result, job)
    except Exception as e:  # noqa: BLE001 - every failure becomes a message, never a dead server
        if job is not None:
            shutil.rmtree(job, ignore_errors=True)
        raise _user_error(e) from e
    for warning in result.metrics.get("warnings", []):
        gr.Warning(warning)
    return (before, after), str(out), result.metrics, faces


def _show_faces(metrics: dict[str, Any] | None) -> dict[str, Any]:
    """The faces gallery is shown only when faces were restored."""
    return gr.update(visible=bool(((metrics or {}).get("faces") or {}).get("restored")))


def _face_previews(result: restoration.RestoreResult, job: Path) -> list[tuple[str, str]]:
    """The restored faces as gallery items: each face before and after, 512 px."""
    items = []
    crops = result.report.faces.crops if result.report.faces is not None else []
    for i, (before, after) in enumerate(crops, 1):
        for label, t in (("before", before), ("after", after)):
            pixels = t.permute(1, 2, 0).numpy()
            items.append((_preview(pixels, job / f"face{i}_{label}.webp"), f"face {i} {label}"))
    return items


@gpu
def restore_batch_endpoint(files: list[str] | None, preset: str | None = None, upscale: float | None = None,
                           model: str | None = None, denoise: float | None = None, colorize: str | None = None,
                           color_model: str | None = None, sharpen: float | None = None,
                           output_format: str | None = None, face: str | None = None,
                           face_fidelity: float | None = None, face_mask: str | None = None,
                           denoise_model: str | None = None, progress: gr.Progress = gr.Progress()):
    """Restore many images and/or zips with the library's ``restore_folder``. Returns (gallery
    previews, one zip, per-file report)."""
    if not files:
        raise gr.Error("No files given: upload images or a zip first.")
    try:
        opts = _options(preset, **_given(locals()))
    except Exception as e:  # noqa: BLE001
        raise _user_error(e) from e
    uploads = [_check_upload(f, "file") for f in files]
    job = _job_dir()
    try:
        return _run_batch(uploads, opts, job, progress)
    except BaseException as e:  # refused as a whole: nothing of this request stays on the server
        shutil.rmtree(job, ignore_errors=True)
        if isinstance(e, Exception) and not isinstance(e, gr.Error):
            raise _user_error(e) from e
        raise


def _gather_uploads(uploads: list[Path], inputs_dir: Path, report: dict[str, Any]) -> int:
    """Put the uploaded images (and the images of uploaded zips, in a folder named after the zip)
    into ``inputs_dir``; what is not taken goes to the report. Returns the number of images."""
    count = 0
    for p in uploads:
        suffix = p.suffix.lower()
        if suffix == ".zip":
            target = _free_name(inputs_dir / p.stem)
            try:
                got, skipped = unpack_images(p, target)
            except RestorationError as e:
                report["failed"].append({"file": p.name, "error": str(e)})
                continue
            report["skipped"].extend(skipped)
            count += len(got)
        elif suffix in INPUT_EXTENSIONS:
            shutil.copyfile(p, _free_name(inputs_dir / p.name))
            count += 1
        else:
            report["skipped"].append(f"{p.name}: skipped (not an image or zip)")
    return count


def _free_name(path: Path) -> Path:
    """``path``, or ``name (2).ext``... when two uploads share a name."""
    n, candidate = 2, path
    while candidate.exists():
        candidate = path.with_name(f"{path.stem} ({n}){path.suffix}")
        n += 1
    return candidate


def _run_batch(uploads: list[Path], opts: RestoreOptions, job: Path, progress: gr.Progress):
    inputs_dir, out_dir = job / "in", job / "restored"
    inputs_dir.mkdir()
    report: dict[str, Any] = {"restored": [], "failed": [], "skipped": []}
    count = _gather_uploads(uploads, inputs_dir, report)
    limit = settings().max_batch_files
    if count > limit:
        raise gr.Error(f"{count} images is over the limit of {limit} per batch; split it.")
    gallery = []

    def on_item(item, index: int, total: int) -> None:
        rel = item.src.relative_to(inputs_dir).as_posix()
        progress((index + 1) / max(1, total), desc=f"{index + 1}/{total} {item.src.name}")
        if item.status == "failed":
            report["failed"].append({"file": rel, "error": item.error})
            return
        report["restored"].append({"file": rel, "psnr": item.metrics["psnr"], "size_out": item.metrics["size_out"]})
        pixels = read_image(item.dst).pixels
        gallery.append((_preview(pixels, job / f"preview_{index}.webp"), rel))

    restore_folder(inputs_dir, out_dir, opts, on_item=on_item, ray=_cluster())  # a missing or corrupt model raises
    shutil.rmtree(inputs_dir, ignore_errors=True)
    archive = None
    if not report["restored"]:
        shutil.rmtree(job, ignore_errors=True)  # nothing to serve: keep no folder around
    else:
        archive = job / "restored.zip"
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as zf:
            for f in sorted(out_dir.rglob("*")):
                if f.is_file():
                    zf.write(f, f.relative_to(out_dir).as_posix())
    progress(1.0, desc="done")
    return gallery, (str(archive) if archive else None), report


@gpu_long
def restore_video_endpoint(video: str | None, preset: str | None = None, upscale: float | None = None,
                           model: str | None = None, denoise: float | None = None, colorize: str | None = None,
                           color_model: str | None = None, sharpen: float | None = None,
                           output_format: str | None = None, face: str | None = None,
                           face_fidelity: float | None = None, face_mask: str | None = None,
                           denoise_model: str | None = None, codec: str | None = None, crf: float | None = None,
                           progress: gr.Progress = gr.Progress()):
    """Restore one video, audio kept. Yields while it works (so a cancel or a closed page stops it);
    the last value is (playable video or None, file to download, metrics)."""
    src = _check_upload(video, "video", settings().max_video_mb)
    try:
        opts = _options(preset, **_given(locals()))
        vopts = build_video_options(codec=codec, crf=None if crf is None else int(round(float(crf))))
    except Exception as e:  # noqa: BLE001
        raise _user_error(e) from e
    dst = _job_dir() / f"{Path(src.name).stem or 'video'}_restored{vopts.suffix}"
    if _cluster():  # the upload sits in this machine's temporary folder: give the workers a copy they reach
        src = Path(shutil.copy2(src, dst.parent / f"source{src.suffix.lower()}"))
    state: dict[str, Any] = {"fraction": 0.0, "message": "starting"}
    cancel = threading.Event()

    def work() -> None:
        try:
            state["result"] = restore_video(
                src, dst, opts, vopts, cancel=cancel, ray=_cluster(),
                progress=lambda f, m: state.update(fraction=f, message=m),
            )
        except BaseException as e:  # noqa: BLE001 - handed back to the request below
            state["error"] = e

    worker = threading.Thread(target=work, daemon=True, name="video-job")
    worker.start()
    try:
        while worker.is_alive():
            worker.join(0.5)
            progress(state["fraction"], desc=state["message"])
            yield gr.skip(), gr.skip(), gr.skip()
    finally:
        if worker.is_alive():  # cancelled or the page closed: stop the work and clean up
            cancel.set()
            worker.join(timeout=120)
            discard_parts(dst)
            shutil.rmtree(dst.parent, ignore_errors=True)
    if "error" in state:  # a new request cannot resume this job's parts: remove them
        discard_parts(dst)
        shutil.rmtree(dst.parent, ignore_errors=True)
        raise _user_error(state["error"]) from state["error"]
    res = state["result"]
    for warning in res.metrics.get("warnings", []):
        gr.Warning(warning)
    playable = str(res.path) if res.path.suffix in (".mp4", ".webm") else None
    yield playable, str(res.path), res.metrics


def list_models_endpoint() -> list[dict[str, Any]]:
    """The model catalogue, then the models added through the Models tab (``source`` "added")."""
    added = [{**info, "id": info["name"]} for info in uploads.list_added()]
    return [s.to_dict() for s in list_models()] + added


def add_model_endpoint(file: str | None) -> dict[str, Any]:
    """Add a model file (checked with spandrel, stored under its content hash). Returns what it is;
    its ``name`` is how it is chosen from then on."""
    if not file:
        raise gr.Error("No model file given: upload a .safetensors, .pth or .ckpt file first.")
    path = Path(file)
    try:
        return uploads.add_model(path, path.name, max_bytes=settings().max_model_mb << 20)
    except Exception as e:  # noqa: BLE001 - a refused file is a message, nothing is stored
        raise _user_error(e) from e


def remove_model_endpoint(name: str | None) -> list[dict[str, Any]]:
    """Remove an added model by its ``name``; returns the models still added."""
    try:
        uploads.remove_model(str(name or ""))
    except Exception as e:  # noqa: BLE001
        raise _user_error(e) from e
    return uploads.list_added()


def _menu_choices(task: str) -> list[tuple[str, str]]:
    """A model menu's choices: the catalogue's models of ``task``, then the added ones."""
    first = {"face-restoration": _face_choices(), "restoration": [("nlm", "nlm")]}.get(task, [])
    catalogue = [] if task == "face-restoration" else [(m, m) for m in model_ids(task)]
    added = [(f"{i['file']} ({i['architecture']} x{i['scale']}, added)", i["name"]) for i in uploads.list_added()
             if i["task"] == task]
    return [*first, *catalogue, *added]


def _refresh_menus(n_panels: int) -> list[Any]:
    """New choices for every panel's model, denoiser and face menus, and the removal menu."""
    per_panel = [gr.update(choices=_menu_choices(t)) for t in ("super-resolution", "restoration", "face-restoration")]
    return per_panel * n_panels + [gr.update(choices=[(i["file"], i["name"]) for i in uploads.list_added()])]


def metrics_table(m: dict[str, Any] | None) -> list[list[str]]:
    """The metrics as rows of (measure, input, result) for the UI."""
    if not m:
        return []
    size = lambda v: f"{v[0]}×{v[1]}"  # noqa: E731
    rows = [
        ["size", size(m["size_in"]), size(m["size_out"])],
        ["sharpness (Laplacian var.)", f"{m['sharpness_in']:.4g}", f"{m['sharpness_out']:.4g}"],
        ["colorfulness", f"{m['colorfulness_in']:.3g}", f"{m['colorfulness_out']:.3g}"],
        [f"PSNR / SSIM vs {m['compared_with']}", "", f"{m['psnr']:.2f} dB / {m['ssim']:.4f}"],
    ]
    for stage, secs in (m.get("seconds") or {}).items():
        rows.append([f"time: {stage}", "", f"{secs:.2f} s"])
    if m.get("stages"):
        rows.append(["stages", "", " → ".join(m["stages"])])
    rows.append(["device", "", str(m.get("device", ""))])
    return rows


_PRESET_CONTROLS = ("upscale", "model", "denoise", "colorize", "color_model", "sharpen", "face")


def _preset_values(preset: str | None) -> list[Any]:
    """The preset's values for the option widgets (no change for "none")."""
    if not preset or preset == NO_PRESET:
        return [gr.update()] * len(_PRESET_CONTROLS)
    p = PRESETS[preset]
    return [getattr(p, name) for name in _PRESET_CONTROLS]


def _about() -> str:
    import torch

    dev = f"CUDA: {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else "CPU (no CUDA GPU found)"
    rows = "\n".join(
        f"| `{s.id}` | {s.task} | x{s.scale} | {s.license} | {s.source} |" for s in list_models()
    )
    return (
        f"**Device:** {dev} · **restoration** {restoration.__version__} · **torch** {torch.__version__}"
        f" · **gradio** {gr.__version__}\n\n| model | task | scale | license | source |\n|---|---|---|---|---|\n"
        f"{rows}\n\nWeights download from the Hugging Face Hub on first use and stay cached."
    )


# --- the UI ------------------------------------------------------------------------------------
def _widget(name: str, value: Any = None, choices: list[str] | None = None, **kw: Any) -> gr.components.Component:
    """The widget of the option ``name``, with its label, range or choices from the library's
    ``restoration.options.FIELDS``. ``value`` None is "not given" (see ``Slider``)."""
    f = field(name)
    if choices is not None:  # models: a menu, however few there are
        return Dropdown(choices, value=value, label=f.label, **kw)
    if f.choices is not None:
        kind = Radio if len(f.choices) <= 3 else Dropdown
        return kind(list(f.choices), value=value, label=f.label, **kw)
    return Slider(f.lo, f.hi, value=value, step=f.step, label=f.label, info=kw.pop("info", None), **kw)


def _default_fidelity(face: str | None) -> float:
    from restoration.faces.restore import DEFAULT_FIDELITY

    if not face or face == "off":
        return 0.0
    return DEFAULT_FIDELITY.get(get_spec(face).architecture, 0.0)


def _face_choices() -> list[tuple[str, str]]:
    """"off" and the face models, the non-commercial ones labelled so."""
    return [("off", "off"), *((s.label, s.id) for s in list_models("face-restoration"))]


def _options_panel(default_preset: str = "old-photo") -> tuple[gr.components.Component, list[Any]]:
    """The preset and the option widgets, in ``OPTION_PARAMS`` order. The widgets start as "not given"
    (so an API caller who leaves them out gets the preset's values); in the page, loading and choosing
    a preset fill them."""
    preset = Dropdown([NO_PRESET, *PRESETS], value=default_preset, label="Preset")
    with gr.Accordion("Faces", open=False):
        with gr.Row():
            face = _widget("face", choices=_menu_choices("face-restoration"), allow_custom_value=True,
                           info="restore faces from the input and paste them into the result")
            face_fidelity = _widget("face_fidelity", info="0: the network's face, 1: the original "
                                    "(default: 0.5 for CodeFormer, 0 for the others)")
            face_mask = _widget("face_mask", value="box")
    with gr.Accordion("Advanced settings", open=False):
        with gr.Row():
            upscale = _widget("upscale")
            model = _widget("model", choices=_menu_choices("super-resolution"), allow_custom_value=True,
                            info="an id, a file name in the models folder, or hf:owner/repo/file")
        with gr.Row():
            denoise = _widget("denoise")
            denoise_model = _widget("denoise_model", choices=_menu_choices("restoration"), value="nlm",
                                    allow_custom_value=True,
                                    info="nlm: strength = filter h; drunet: = noise level; others: share of "
                                         "the network's output (all from 15)")
            sharpen = _widget("sharpen")
        with gr.Row():
            colorize = _widget("colorize")
            color_model = _widget("color_model", choices=model_ids("colorization"))
            output_format = Dropdown([f for f in field("output_format").choices if f != "bmp"], value="png",
                                     label=field("output_format").label)
    widgets = dict(upscale=upscale, model=model, denoise=denoise, colorize=colorize, color_model=color_model,
                   sharpen=sharpen, output_format=output_format, face=face, face_fidelity=face_fidelity,
                   face_mask=face_mask, denoise_model=denoise_model)
    preset.change(_preset_values, preset, [widgets[n] for n in _PRESET_CONTROLS], api_visibility="private",
                  queue=False)
    # The page shows the chosen face model's own default fidelity (an API caller who sends none gets it too).
    face.change(_default_fidelity, face, face_fidelity, api_visibility="private", queue=False)
    return preset, [widgets[n] for n in OPTION_PARAMS[1:]]


def build_app() -> gr.Blocks:
    examples = sorted(p for p in EXAMPLES_DIR.glob("*") if p.suffix.lower() in INPUT_EXTENSIONS)
    cfg = settings()
    panels = []  # (preset widget, its controls), filled from the preset when the page loads
    with gr.Blocks(title="Restoration", delete_cache=(1800, cfg.output_ttl_s)) as demo:
        gr.Markdown("# Restoration\nOld, small, noisy or black-and-white photos in; restored ones out.")
        if cfg.ray_address:
            where = ("an embedded Ray on this machine" if cfg.ray_address == "local"
                     else f"the Ray cluster `{cfg.ray_address}`")
            gr.Markdown(f"Batch and video jobs run on {where}.", elem_id="cluster-note")
        with gr.Tab("Image"):
            with gr.Row():
                with gr.Column(scale=1):
                    image_in = UploadedImage(type="filepath", image_mode=None, label="Photo",
                                             sources=["upload", "clipboard", "webcam"], elem_id="photo-in")
                    run = gr.Button("Restore", variant="primary", size="lg", elem_id="restore")
                    preset, opts = _options_panel()
                    panels.append((preset, opts))
                    if examples:
                        gr.Examples([[str(p)] for p in examples], inputs=[image_in], label="Examples")
                with gr.Column(scale=2):
                    slider = gr.ImageSlider(label="Before / after", type="filepath", elem_id="result")
                    download = gr.File(label="Download (full resolution)")
                    table = gr.Dataframe(headers=["measure", "input", "result"], label="Metrics",
                                         interactive=False, wrap=True,
                                         column_widths=["34%", "26%", "40%"], elem_id="metrics")
                    face_gallery = gr.Gallery(label="Faces (before / after)", columns=6, height="auto",
                                              object_fit="contain", elem_id="faces", visible=False)
                    metrics = gr.JSON(label="Metrics (all)", visible=False)
            run.click(restore_image_endpoint, [image_in, preset, *opts], [slider, download, metrics, face_gallery],
                      api_name=api_name(RESTORE_IMAGE), concurrency_id="gpu",
                      concurrency_limit=cfg.concurrency
                      ).success(metrics_table, metrics, table, api_visibility="private", queue=False
                                ).success(_show_faces, metrics, face_gallery, api_visibility="private", queue=False)
        with gr.Tab("Video"):
            with gr.Row():
                with gr.Column(scale=1):
                    video_in = gr.Video(label="Video", sources=["upload"], elem_id="video-in")
                    with gr.Row():
                        run_video = gr.Button("Restore video", variant="primary", size="lg",
                                              elem_id="restore-video")
                        stop_video = gr.Button("Stop", variant="stop", size="lg")
                    vpreset, vopts = _options_panel(default_preset="video")
                    panels.append((vpreset, vopts))
                    with gr.Accordion("Video encoding", open=False):
                        codec = Dropdown(list(field("codec").choices), value=field("codec").default,
                                         label=field("codec").label,
                                         info="h264/h265 → MP4, vp9 → WebM, ffv1 → MKV and png → MOV "
                                              "(lossless, for archives; download only)")
                        crf = _widget("crf", value=field("crf").default)
                with gr.Column(scale=2):
                    video_out = gr.Video(label="Restored", elem_id="video-out")
                    video_file = gr.File(label="Download")
                    video_metrics = gr.JSON(label="Metrics")
            video_event = run_video.click(
                restore_video_endpoint, [video_in, vpreset, *vopts, codec, crf],
                [video_out, video_file, video_metrics], api_name=api_name(RESTORE_VIDEO),
                concurrency_id="gpu", concurrency_limit=cfg.concurrency)
            stop_video.click(None, cancels=[video_event], api_visibility="private", queue=False)
        with gr.Tab("Batch"):
            with gr.Row():
                with gr.Column(scale=1):
                    files_in = gr.File(file_count="multiple", label="Images or zip archives",
                                       file_types=[*INPUT_EXTENSIONS, ".zip"])
                    run_batch = gr.Button("Restore all", variant="primary", size="lg")
                    bpreset, bopts = _options_panel()
                    panels.append((bpreset, bopts))
                with gr.Column(scale=2):
                    gallery = gr.Gallery(label="Results", columns=4)
                    archive = gr.File(label="Download all (zip)")
                    report = gr.JSON(label="Report")
            run_batch.click(restore_batch_endpoint, [files_in, bpreset, *bopts], [gallery, archive, report],
                            api_name=api_name(RESTORE_BATCH), concurrency_id="gpu",
                            concurrency_limit=cfg.concurrency)
        with gr.Tab("Models & About"):
            gr.Markdown(_about())
            with gr.Row():
                model_file = gr.File(label="Add a model (.safetensors recommended, .pth, .ckpt)",
                                     file_types=[".safetensors", ".pth", ".ckpt"], elem_id="model-in")
                with gr.Column():
                    add_button = gr.Button("Add model", variant="primary", elem_id="add-model")
                    added_info = gr.JSON(label="Added")
                    remove_menu = Dropdown([], value=None, label="Added models", elem_id="added-models",
                                           allow_custom_value=True)
                    remove_button = gr.Button("Remove", variant="stop")
            catalogue = gr.JSON(label="Catalogue")
        demo.load(list_models_endpoint, None, catalogue, api_name=api_name(LIST_MODELS))
        menus = [w for _, controls in panels for n, w in zip(OPTION_PARAMS[1:], controls)
                 if n in ("model", "denoise_model", "face")]
        refresh = dict(fn=lambda: _refresh_menus(len(panels)), inputs=None, outputs=[*menus, remove_menu],
                       api_visibility="private", queue=False)
        demo.load(**refresh)
        add_button.click(add_model_endpoint, model_file, added_info, api_name=api_name(ADD_MODEL)).success(
            **refresh).then(list_models_endpoint, None, catalogue, api_visibility="private", queue=False)
        remove_button.click(remove_model_endpoint, remove_menu, added_info, api_name=api_name(REMOVE_MODEL)
                            ).success(**refresh).then(list_models_endpoint, None, catalogue, api_visibility="private",
                                                      queue=False)
        for preset_widget, controls in panels:
            by_name = dict(zip(OPTION_PARAMS[1:], controls))
            demo.load(_preset_values, preset_widget, [by_name[n] for n in _PRESET_CONTROLS],
                      api_visibility="private", queue=False)
    demo.queue(max_size=cfg.queue_size, default_concurrency_limit=cfg.concurrency)
    return demo


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        cfg = settings()
        demo = build_app()
    except restoration.ConfigError as e:  # a bad setting: one clear line, no traceback
        print(f"error: {e}", file=sys.stderr)
        return 2
    if cfg.ray_address:
        log.info("batch and video jobs run on Ray (%s); results are kept in %s, which every node must reach",
                 cfg.ray_address, cfg.output_root)
    # gradio's cap is the larger of the two; each endpoint then holds its own kind to its own limit
    demo.launch(server_name=config.get("GRADIO_SERVER_NAME"), server_port=config.get("GRADIO_SERVER_PORT"),
                max_file_size=f"{max(cfg.max_upload_mb, cfg.max_video_mb, cfg.max_model_mb)}mb")
    return 0


if __name__ == "__main__":
    sys.exit(main())
