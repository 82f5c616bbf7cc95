"""Gradio app: Image, Video, Batch and Models tabs over the ``restoration`` library.

Handlers stay thin: widgets -> RestoreOptions -> library -> outputs. Every event has an explicit
``api_name`` (names shared with ``client/``), so the browser and remote programs use the same queued
endpoints. Run with ``python app.py`` (``GRADIO_SERVER_NAME``/``GRADIO_SERVER_PORT`` as usual).
"""

from __future__ import annotations

import inspect
import logging
import math
import re
import shutil
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Generator
from pathlib import Path
from typing import Any

import gradio as gr
import numpy as np
from gradio.exceptions import InvalidPathError

import restoration
from client.endpoints import (
    ADD_MODEL,
    LIST_MODELS,
    OPTION_PARAMS,
    REMOVE_MODEL,
    RESTORE_BATCH,
    RESTORE_IMAGE,
    RESTORE_VIDEO,
    VIDEO_PARAMS,
    api_name,
    field,
)
from restoration import (
    Cancelled,
    ChecksumMismatchError,
    OptionError,
    RestorationError,
    RestoreOptions,
    WeightsUnavailableError,
    config,
    uploads,
    workspace,
)
from restoration.arches import default_fidelity
from restoration.catalog import list_models, model_ids
from restoration.jobs import restore_folder, restore_video
from restoration.media import FORMAT_EXT, INPUT_EXTENSIONS, ImageData, read_image, write_image
from restoration.metrics import resize_to
from restoration.options import FIELDS, IMAGE_FIELDS, NO_PRESET, PRESETS, build_options, build_video_options
from restoration.pipeline import ProgressFn
from restoration.refs import check_not_a_path
from restoration.video import discard_parts
from restoration.weights import availability

log = logging.getLogger("restoration.app")

PREVIEW_MAX_SIDE = 2048
RESTORE_FIELDS = {f.name for f in IMAGE_FIELDS}
# The option menus that list models, and the kind of model each lists.
MENU_TASKS = {"model": "super-resolution", "face": "face-restoration", "denoise_model": "restoration"}
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


class Blocks(gr.Blocks):
    """``gr.Blocks`` whose endpoints answer callers of gradio's REST protocol (curl, any language) as
    they answer ``gradio_client``: inputs left out at the end are None ("not given"), and an input
    that cannot be read is refused with what is wrong (gradio's own errors reach such a caller only
    as ``{"error": null}``)."""

    def validate_inputs(self, block_fn: Any, inputs: list[Any]) -> None:
        if len(inputs) < len(block_fn.inputs):
            inputs.extend([None] * (len(block_fn.inputs) - len(inputs)))
        super().validate_inputs(block_fn, inputs)

    async def preprocess_data(self, block_fn: Any, inputs: list[Any], state: Any, explicit_call: bool = False):
        try:
            return await super().preprocess_data(block_fn, inputs, state, explicit_call)
        except gr.Error:
            raise
        except InvalidPathError as e:
            raise gr.Error(f"{str(e).split(' to the gradio')[0].replace('Cannot move ', '')}: not a file uploaded "
                           "to this server; upload it first (POST /gradio_api/upload) and send the path the upload "
                           "returned") from None
        except Exception as e:  # noqa: BLE001 - a value of the wrong shape (pydantic, gradio)
            first = str(e).strip().splitlines()[0] if str(e).strip() else ""
            raise gr.Error(f"/{block_fn.api_name}: the values sent could not be read ({type(e).__name__}: "
                           f"{first[:200]}); see /gradio_api/info for what each input takes") from None


# --- helpers -----------------------------------------------------------------------------------
def _executor() -> Any:
    """Where batch and video jobs run: None (in this process), or the Ray cluster of
    ``RESTORATION_RAY_ADDRESS`` ("local" starts an embedded Ray)."""
    if not settings().ray_address:
        return None
    from restoration.cluster import Cluster

    return Cluster(address=settings().ray_address)


def _job_dir() -> Path:
    """A fresh folder for one request's outputs (older ones are removed after the TTL)."""
    return workspace.request_dir(settings().output_root, settings().output_ttl_s)


def _options(given: dict[str, Any]) -> RestoreOptions:
    """The library's ``build_options``: the preset, then the values given (None = not given); files
    the app writes are PNG unless a format is given. A visitor may not name the server's files."""
    for name in MENU_TASKS:
        check_not_a_path(given.get(name), name)
    opts = build_options(given.get("preset"), **{k: v for k, v in given.items() if k in RESTORE_FIELDS})
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


def _missing_model(e: WeightsUnavailableError | ChecksumMismatchError) -> str:
    """What a visitor can do when a model the job needs is not on this server (the operator's detail,
    with the variable or command that fixes it, goes to the log)."""
    log.warning("%s model %s unavailable: %s", e.option, e.model, e)
    if e.option == "face" and e.model == "yunet":
        return "Face detection is not available on this server: set Faces to off to restore without it."
    what = {"model": "The upscaler", "denoise_model": "The denoiser", "face": "The face model",
            "face_mask": "The face-parsing model", "color_model": "The colorizer"}[e.option]
    do = {"model": "choose another Upscaler, or set Upscale to 0",
          "denoise_model": "choose nlm as the Denoiser, or set Denoise to 0",
          "face": "set Faces to off to restore without it", "face_mask": "set Face mask to box",
          "color_model": "set Colorize to off to restore without it"}[e.option]
    return f"{what if e.option == 'face_mask' else f'{what} {e.model}'} is not available on this server: {do}."


def _user_error(e: BaseException) -> gr.Error:
    """The message a visitor sees for ``e``."""
    if isinstance(e, gr.Error):
        return e
    if isinstance(e, (WeightsUnavailableError, ChecksumMismatchError)) and e.option:
        return gr.Error(_missing_model(e))
    if isinstance(e, OptionError):  # "model: ..." -> "Upscaler: model: ...", the widget the user sees
        name = re.match(r"(\w+)[=:]", str(e))
        label = field(name[1]).label if name and name[1] in FIELDS else None
        return gr.Error(f"{label}: {e}" if label else str(e))
    if isinstance(e, RestorationError):
        return gr.Error(str(e))
    log.error("unexpected failure", exc_info=e)
    return gr.Error(f"Internal error ({type(e).__name__}); the server is fine, try again or report it.")


class _LastErrors:
    """The last failure of each visitor's session in each tab, for the page's status line (a toast
    closes by itself; the reason must stay readable until the next run). Bounded: API callers, who
    never read it back, cannot make it grow."""

    def __init__(self, size: int = 1024) -> None:
        self._messages: OrderedDict[tuple[str, str], str] = OrderedDict()
        self._lock = threading.Lock()
        self._size = size

    def fail(self, e: BaseException, request: gr.Request | None, tab: str) -> gr.Error:
        """``e`` as the visitor's ``gr.Error``, remembered for the status line of ``tab``."""
        error = _user_error(e)
        if request is not None and request.session_hash:
            with self._lock:
                self._messages[request.session_hash, tab] = error.message
                while len(self._messages) > self._size:
                    self._messages.popitem(last=False)
        return error

    def status(self, request: gr.Request | None, tab: str) -> str:
        """The status line after a failed run: its reason, or what was shown in the corner."""
        with self._lock:
            message = self._messages.pop(((request and request.session_hash) or "", tab), None)
        reason = message or "see the message in the corner of the page"
        return f"**The last run failed:** {_markdown_text(reason)}"


ERRORS = _LastErrors()


def _markdown_text(text: str) -> str:
    return re.sub(r"([\\`*_{}\[\]<>()#+!|])", r"\\\1", text)


def _in_background(work: Callable[[threading.Event, ProgressFn], Any], progress: gr.Progress,
                   outputs: Callable[[], tuple[Any, ...]], name: str) -> Generator[tuple[Any, ...], None, Any]:
    """Run ``work(cancel, report)`` in a thread; yield ``outputs()`` twice a second while it runs, so
    progress shows and a Stop or a closed page reaches the job (``cancel`` is set and the thread
    joined). ``name`` names the thread. Returns what ``work`` returned; raises what it raised."""
    state: dict[str, Any] = {"fraction": 0.0, "message": "starting"}
    cancel = threading.Event()

    def run() -> None:
        try:
            state["result"] = work(cancel, lambda f, m: state.update(fraction=f, message=m))
        except BaseException as e:  # noqa: BLE001 - handed back to the request below
            state["error"] = e

    worker = threading.Thread(target=run, daemon=True, name=name)
    worker.start()
    try:
        while worker.is_alive():
            worker.join(0.5)
            progress(state["fraction"], desc=state["message"])
            yield outputs()
    finally:
        if worker.is_alive():  # cancelled or the page closed: stop the work
            cancel.set()
            worker.join(timeout=120)
    if "error" in state:
        raise state["error"]
    return state["result"]


def _takes_options(*extra: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """An endpoint ``fn(media, given, progress, request)`` as gradio and its API see it: the media
    input, then every option of ``OPTION_PARAMS`` (and ``extra``) by name, each None ("not given":
    the preset's value stays) unless sent; ``given`` is those options as a dict."""
    names = (*OPTION_PARAMS, *extra)

    def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
        def call(media: Any, *args: Any) -> Any:
            *values, progress, request = args
            return fn(media, dict(zip(names, values)), progress, request)

        if inspect.isgeneratorfunction(fn):
            def endpoint(media: Any, *args: Any) -> Any:
                return (yield from call(media, *args))
        else:
            endpoint = call
        P = inspect.Parameter
        media = next(iter(inspect.signature(fn).parameters))
        endpoint.__signature__ = inspect.Signature([  # type: ignore[attr-defined]
            P(media, P.POSITIONAL_OR_KEYWORD), *(P(n, P.POSITIONAL_OR_KEYWORD, default=None) for n in names),
            P("progress", P.POSITIONAL_OR_KEYWORD, default=gr.Progress()),
            P("request", P.POSITIONAL_OR_KEYWORD, default=None, annotation=gr.Request)])
        endpoint.__annotations__ = {"request": gr.Request}  # gradio injects the request by this hint
        endpoint.__name__ = endpoint.__qualname__ = fn.__name__
        endpoint.__doc__ = fn.__doc__
        return endpoint

    return wrap


# --- endpoints ---------------------------------------------------------------------------------
@gpu
@_takes_options()
def restore_image_endpoint(image: str | None, given: dict[str, Any], progress: gr.Progress,
                           request: gr.Request | None):
    """Restore one image. Returns (before/after preview pair, full-resolution file, metrics, faces)."""
    job = None
    try:
        src = _check_upload(image)
        opts = _options(given)
        data = read_image(src, name=src.name)
        result = restoration.restore_image(data, opts, progress=lambda f, m: progress(f, desc=m))
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
        raise ERRORS.fail(e, request, "image") from e
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
@_takes_options()
def restore_batch_endpoint(files: list[str] | None, given: dict[str, Any], progress: gr.Progress,
                           request: gr.Request | None):
    """Restore many images and/or zips with the library's ``restore_folder``. Yields the gallery as
    files finish; the last value is (gallery previews, one zip, per-file report). A batch that stops
    (a model missing for one of its pictures) still delivers the files it finished."""
    try:
        if not files:
            raise gr.Error("No files given: upload images or a zip first.")
        opts = _options(given)
        paths = [_check_upload(f, "file") for f in files]
    except Exception as e:  # noqa: BLE001
        raise ERRORS.fail(e, request, "batch") from e
    job = _job_dir()
    try:
        outputs = yield from _run_batch(paths, opts, job, progress)
    except BaseException as e:  # refused as a whole: nothing of this request stays on the server
        shutil.rmtree(job, ignore_errors=True)
        if isinstance(e, Exception):
            raise ERRORS.fail(e, request, "batch") from e
        raise
    yield outputs


def _run_batch(paths: list[Path], opts: RestoreOptions, job: Path, progress: gr.Progress):
    inputs_dir, out_dir = job / "in", job / "restored"
    got = workspace.gather_uploads(paths, inputs_dir)
    report: dict[str, Any] = {"restored": [], "failed": list(got.failed), "skipped": list(got.skipped)}
    limit = settings().max_batch_files
    if got.images > limit:
        raise gr.Error(f"{got.images} images is over the limit of {limit} per batch; split it.")
    gallery: list[tuple[str, str]] = []

    def on_item(item, index: int, total: int) -> None:
        rel = item.src.relative_to(inputs_dir).as_posix()
        if item.status == "failed":
            report["failed"].append({"file": rel, "error": item.error})
            return
        report["restored"].append({"file": rel, "psnr": item.metrics["psnr"], "size_out": item.metrics["size_out"]})
        gallery.append((_preview(read_image(item.dst).pixels, job / f"preview_{index}.webp"), rel))

    def work(cancel: threading.Event, report_progress: ProgressFn) -> Any:
        return restore_folder(inputs_dir, out_dir, opts, on_item=on_item, progress=report_progress, cancel=cancel,
                              executor=_executor())

    try:
        yield from _in_background(work, progress, lambda: (list(gallery), gr.skip(), report), "batch-job")
    except RestorationError as e:  # stopped part-way (a model missing for one picture): keep what is done
        if not report["restored"] or isinstance(e, Cancelled):
            raise
        report["stopped"] = _user_error(e).message
        gr.Warning(f"The batch stopped after {len(report['restored'])} file(s): {report['stopped']} The finished "
                   "files are in the zip.")
    shutil.rmtree(inputs_dir, ignore_errors=True)
    if not report["restored"]:
        shutil.rmtree(job, ignore_errors=True)  # nothing to serve: keep no folder around
        return gallery, None, report
    progress(1.0, desc="done")
    return gallery, str(workspace.zip_folder(out_dir, job / "restored.zip")), report


@gpu_long
@_takes_options(*VIDEO_PARAMS)
def restore_video_endpoint(video: str | None, given: dict[str, Any], progress: gr.Progress,
                           request: gr.Request | None):
    """Restore one video, audio kept. Yields while it works (so a cancel or a closed page stops it);
    the last value is (playable video or None, file to download, metrics)."""
    try:
        src = _check_upload(video, "video", settings().max_video_mb)
        opts = _options(given)
        crf = given.get("crf")
        vopts = build_video_options(codec=given.get("codec"), crf=None if crf is None else int(round(float(crf))))
    except Exception as e:  # noqa: BLE001
        raise ERRORS.fail(e, request, "video") from e
    dst = _job_dir() / f"{Path(src.name).stem or 'video'}_restored{vopts.suffix}"
    if settings().ray_address:  # the upload sits in this machine's temporary folder: give the workers a copy they reach
        src = Path(shutil.copy2(src, dst.parent / f"source{src.suffix.lower()}"))

    def work(cancel: threading.Event, report_progress: ProgressFn) -> Any:
        return restore_video(src, dst, opts, vopts, cancel=cancel, executor=_executor(), progress=report_progress)

    try:
        res = yield from _in_background(work, progress, lambda: (gr.skip(), gr.skip(), gr.skip()), "video-job")
    except BaseException as e:  # a new request cannot resume this job's parts: remove them
        discard_parts(dst)
        shutil.rmtree(dst.parent, ignore_errors=True)
        if isinstance(e, Exception):
            raise ERRORS.fail(e, request, "video") from e
        raise
    for warning in res.metrics.get("warnings", []):
        gr.Warning(warning)
    playable = str(res.path) if res.path.suffix in (".mp4", ".webm") else None
    yield playable, str(res.path), res.metrics


AVAILABLE = {"local": "on this server (models folder)", "cache": "on this server (downloaded)",
             "download": "downloads on first use", "unavailable": "not available on this server"}


def list_models_endpoint() -> list[dict[str, Any]]:
    """The model catalogue, each with ``available`` (on this server, downloaded on first use, or not
    available), then the models added through the Models tab (``source`` "added")."""
    added = [{**info, "id": info["name"], "available": AVAILABLE["local"]} for info in uploads.list_added()]
    return [{**s.to_dict(), "available": AVAILABLE[availability(s.id)]} for s in list_models()] + added


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


def _refresh_menus(names: list[str]) -> list[Any]:
    """New choices for the model menus ``names`` (option names, in the order of the outputs), then
    the removal menu."""
    return ([gr.update(choices=_menu_choices(MENU_TASKS[n])) for n in names]
            + [gr.update(choices=[(i["file"], i["name"]) for i in uploads.list_added()])])


def metrics_table(m: dict[str, Any] | None) -> list[list[str]]:
    """The metrics as rows of (measure, input, result) for the UI."""
    if not m:
        return []
    size = lambda v: f"{v[0]}×{v[1]}"  # noqa: E731
    rows = [
        ["size", size(m["size_in"]), size(m["size_out"])],
        ["sharpness (Laplacian var.; the input resized to the result's size)", f"{m['sharpness_in']:.4g}",
         f"{m['sharpness_out']:.4g}"],
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
    rows = "\n".join(f"| `{s.id}` | {s.task} | x{s.scale} | {AVAILABLE[availability(s.id)]} | {s.license} | "
                     f"{s.source} |" for s in list_models())
    return (
        f"**Device:** {dev} · **restoration** {restoration.__version__} · **torch** {torch.__version__}"
        f" · **gradio** {gr.__version__}\n\n| model | task | scale | here? | license | source |\n"
        f"|---|---|---|---|---|---|\n{rows}\n\nA model that is not on this server downloads from the Hugging "
        "Face Hub the first time a job needs it, and stays cached."
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


def _face_choices() -> list[tuple[str, str]]:
    """"off" and the face models, the non-commercial ones labelled so."""
    return [("off", "off"), *((s.label, s.id) for s in list_models("face-restoration"))]


def _options_panel(default_preset: str = "old-photo", images: bool = True
                   ) -> tuple[gr.components.Component, list[Any]]:
    """The preset and the option widgets, in ``OPTION_PARAMS`` order. The widgets start as "not given"
    (so an API caller who leaves them out gets the preset's values); in the page, loading and choosing
    a preset fill them. ``images`` False (the Video tab) hides what only image files use."""
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
            upscale = _widget("upscale", scale=1)
            model = _widget("model", choices=_menu_choices("super-resolution"), allow_custom_value=True, scale=2,
                            min_width=300, info="an id, a file name in the models folder, or hf:owner/repo/file")
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
                                     label=field("output_format").label, visible=images)
    widgets = dict(upscale=upscale, model=model, denoise=denoise, colorize=colorize, color_model=color_model,
                   sharpen=sharpen, output_format=output_format, face=face, face_fidelity=face_fidelity,
                   face_mask=face_mask, denoise_model=denoise_model)
    preset.change(_preset_values, preset, [widgets[n] for n in _PRESET_CONTROLS], api_visibility="private",
                  queue=False)
    # The page shows the chosen face model's own default fidelity (an API caller who sends none gets it too).
    face.change(default_fidelity, face, face_fidelity, api_visibility="private", queue=False)
    return preset, [widgets[n] for n in OPTION_PARAMS[1:]]


def _cleared(button: gr.Button, status: gr.Markdown) -> Any:
    """A click of ``button`` that first empties the tab's ``status`` line; chain the run on it (a
    second listener of the click could empty the line after a quick failure had filled it)."""
    return button.click(lambda: "", None, status, api_visibility="private", queue=False)


def _failure_shown(event: Any, status: gr.Markdown, tab: str) -> None:
    """When ``event`` fails, ``status`` says why until the next run (the corner's message closes by
    itself)."""

    def failed(request: gr.Request) -> str:
        return ERRORS.status(request, tab)

    event.failure(failed, None, status, api_visibility="private", queue=False)


def _batch_status(report: dict[str, Any] | None) -> str:
    """The Batch tab's status line after a run that delivered: what stopped it, if anything."""
    stopped = (report or {}).get("stopped")
    done = len((report or {}).get("restored") or [])
    return f"**Stopped after {done} file(s):** {_markdown_text(stopped)} The zip holds the finished files." \
        if stopped else ""


def build_app() -> gr.Blocks:
    examples = sorted(p for p in EXAMPLES_DIR.glob("*") if p.suffix.lower() in INPUT_EXTENSIONS)
    cfg = settings()
    panels = []  # (preset widget, its controls), filled from the preset when the page loads
    with Blocks(title="Restoration", delete_cache=(1800, cfg.output_ttl_s)) as demo:
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
                    image_status = gr.Markdown(elem_id="status-image")
            image_event = _cleared(run, image_status).then(
                restore_image_endpoint, [image_in, preset, *opts], [slider, download, metrics, face_gallery],
                api_name=api_name(RESTORE_IMAGE), concurrency_id="gpu", concurrency_limit=cfg.concurrency)
            image_event.success(metrics_table, metrics, table, api_visibility="private", queue=False
                                ).success(_show_faces, metrics, face_gallery, api_visibility="private", queue=False)
            _failure_shown(image_event, image_status, "image")
        with gr.Tab("Video"):
            with gr.Row():
                with gr.Column(scale=1):
                    video_in = gr.Video(label="Video", sources=["upload"], elem_id="video-in")
                    with gr.Row():
                        run_video = gr.Button("Restore video", variant="primary", size="lg",
                                              elem_id="restore-video")
                        stop_video = gr.Button("Stop", variant="stop", size="lg")
                    vpreset, vopts = _options_panel(default_preset="video", images=False)
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
                    video_status = gr.Markdown(elem_id="status-video")
            video_event = _cleared(run_video, video_status).then(
                restore_video_endpoint, [video_in, vpreset, *vopts, codec, crf],
                [video_out, video_file, video_metrics], api_name=api_name(RESTORE_VIDEO),
                concurrency_id="gpu", concurrency_limit=cfg.concurrency)
            _failure_shown(video_event, video_status, "video")
            stop_video.click(None, cancels=[video_event], api_visibility="private", queue=False)
        with gr.Tab("Batch"):
            with gr.Row():
                with gr.Column(scale=1):
                    files_in = gr.File(file_count="multiple", label="Images or zip archives",
                                       file_types=[*INPUT_EXTENSIONS, ".zip"], elem_id="batch-in")
                    run_batch = gr.Button("Restore all", variant="primary", size="lg", elem_id="restore-batch")
                    bpreset, bopts = _options_panel()
                    panels.append((bpreset, bopts))
                with gr.Column(scale=2):
                    gallery = gr.Gallery(label="Results", columns=4)
                    archive = gr.File(label="Download all (zip)")
                    report = gr.JSON(label="Report")
                    batch_status = gr.Markdown(elem_id="status-batch")
            batch_event = _cleared(run_batch, batch_status).then(
                restore_batch_endpoint, [files_in, bpreset, *bopts], [gallery, archive, report],
                api_name=api_name(RESTORE_BATCH), concurrency_id="gpu", concurrency_limit=cfg.concurrency)
            _failure_shown(batch_event, batch_status, "batch")
            batch_event.success(_batch_status, report, batch_status, api_visibility="private", queue=False)
        with gr.Tab("Models & About"):
            about = gr.Markdown(_about(), elem_id="about")
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
        demo.load(_about, None, about, api_visibility="private", queue=False)  # what is on the server now
        menus = [(n, w) for _, controls in panels for n, w in zip(OPTION_PARAMS[1:], controls) if n in MENU_TASKS]
        refresh = dict(fn=lambda: _refresh_menus([n for n, _ in menus]), inputs=None,
                       outputs=[*(w for _, w in menus), remove_menu], api_visibility="private", queue=False)
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
