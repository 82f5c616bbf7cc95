"""Gradio app: Image, Video, Batch and Models tabs over the ``restoration`` library, whose
``restoration.server`` package does what a server does around a job; this file adapts widgets and
events to it. Every event has an explicit ``api_name`` (names shared with ``client/``), so the browser and
remote programs use the same queued endpoints. Run with ``python app.py``."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import inspect
import logging
import math
import sys
import typing
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gradio as gr
from gradio.exceptions import InvalidPathError

import restoration
from client import endpoints as api
from client.endpoints import OPTION_PARAMS, field
from restoration import RestorationError, config
from restoration.arches import default_fidelity
from restoration.media import INPUT_EXTENSIONS
from restoration.metrics import table as metrics_table
from restoration.options import NO_PRESET, PRESETS, build_video_options
from restoration.server import agents, background, catalogue, folders, visitors, words
from restoration.server.host import Host

log = logging.getLogger("restoration.app")
EXAMPLES_DIR = Path(__file__).resolve().parent / "examples"
settings = functools.cache(config.app_settings)  # read once, when the app is built


def host() -> Host:
    """Where this server's jobs run (from the settings read once)."""
    return Host(settings())


# --- widgets that speak to API callers -----------------------------------------------------------
class UploadedImage(gr.Image):
    """An image input that hands the upload to the library's decoder untouched (bit depth, ICC, EXIF)."""

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


Dropdown, Radio = _naming_errors(gr.Dropdown, "dropdown"), _naming_errors(gr.Radio, "radio")


class Slider(_naming_errors(gr.Slider, "slider")):
    """A slider that takes ``None`` as "not given" (its value in the API's schema is then None, so a
    caller who leaves it out keeps the preset's value) and refuses what is not a number."""

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
    """Blocks that answer REST callers (curl) as ``gradio_client``: inputs left out are None, and an unreadable
    one is refused with why (not ``{"error": null}``); the results folder is served wherever it is, and its
    files also at ``/results/<request>/<file>`` (links for agents that show no server path); the MCP server
    (``RESTORATION_MCP``) lists only the agents' tools and gives their pictures back as images."""

    def launch(self, *args: Any, **kwargs: Any) -> Any:
        kwargs["allowed_paths"] = [*(kwargs.get("allowed_paths") or []), str(settings().output_root)]
        kwargs.setdefault("mcp_server", settings().mcp)
        kwargs.setdefault("run_history", settings().run_history)
        kwargs.setdefault("css", CSS)
        hold = not kwargs.pop("prevent_thread_lock", False) and not bool(getattr(sys, "ps1", sys.flags.interactive))
        launched = super().launch(*args, prevent_thread_lock=True, **kwargs)
        _SERVING.add(self)
        self.app.add_api_route("/results/{folder}/{name}", _result_file, methods=["GET", "HEAD"])
        if hold:
            self.block_thread()
        return launched

    @property
    def mcp_server_obj(self) -> Any:
        return self.__dict__.get("_mcp_server")

    @mcp_server_obj.setter
    def mcp_server_obj(self, server: Any) -> None:  # set by gradio when it makes the MCP server
        if server is not None:
            _for_agents(server)
        self.__dict__["_mcp_server"] = server

    def validate_inputs(self, block_fn: Any, inputs: list[Any]) -> None:
        inputs.extend([None] * (len(block_fn.inputs) - len(inputs)))
        super().validate_inputs(block_fn, inputs)

    async def preprocess_data(self, block_fn: Any, inputs: list[Any], state: Any, explicit_call: bool = False):
        try:
            return await super().preprocess_data(block_fn, inputs, state, explicit_call)
        except gr.Error:
            raise
        except Exception as e:  # noqa: BLE001 - a file not uploaded first, a value of the wrong shape...
            raise gr.Error(words.unreadable(e, block_fn.api_name, isinstance(e, InvalidPathError))) from None


# --- glue between gradio and the library ---------------------------------------------------------
STATUS = words.RunStatus()  # each session's last run per tab: how far it got, why it failed, a Stop


def _session(request: gr.Request | None) -> str | None:
    return getattr(request, "session_hash", None)


def _fail(e: BaseException, request: gr.Request | None, tab: str) -> gr.Error:
    """``e`` as the visitor's message, kept for the status line of ``tab`` until the next run."""
    message = e.message if isinstance(e, gr.Error) else words.for_visitor(e)
    STATUS.put(_session(request), tab, message)
    return e if isinstance(e, gr.Error) else gr.Error(message)


def _upload(path: str | None, what: str, limit_mb: int | None = None) -> Path:
    return folders.check_upload(path, what, limit_mb or settings().max_upload_mb)


@dataclasses.dataclass
class Watched:
    """What a restore endpoint tells of its run (``report(fraction, message)``) and asks (``gone()``: has
    whoever asked left?)."""

    report: Callable[[float, str], None]
    gone: Callable[[], bool]


def _endpoint(tab: str, *extra: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A restore endpoint, an async generator ``fn(media, given, run)`` (``run``: ``Watched``), as gradio
    sees it: the media,
    then each option of ``OPTION_PARAMS`` (and ``extra``) by name, None ("not given") unless sent, for this
    visitor; its progress is kept for the tab's status line (a Stop says how far it got), and a failure
    reaches the visitor in their words and stays in that line until the next run."""
    names = (*OPTION_PARAMS, *extra)

    def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
        async def endpoint(media: Any, *args: Any) -> Any:
            *values, progress, request = args
            session = _session(request)

            def report(fraction: float, message: str) -> None:
                STATUS.progress(session, tab, message)
                progress(fraction, desc=message)

            try:
                with visitors.visitor_scope(_visitor(request)):
                    async for shown in fn(media, dict(zip(names, values)), Watched(report, _left(request))):
                        yield shown
            except Exception as e:  # noqa: BLE001 - every failure becomes a message, never a dead server
                raise _fail(e, request, tab) from e

        functools.update_wrapper(endpoint, fn)
        P = inspect.Parameter
        endpoint.__signature__ = inspect.Signature([  # type: ignore[attr-defined]
            P(next(iter(inspect.signature(fn).parameters)), P.POSITIONAL_OR_KEYWORD),
            *(P(n, P.POSITIONAL_OR_KEYWORD, default=None) for n in names),
            P("progress", P.POSITIONAL_OR_KEYWORD, default=gr.Progress()),
            P("request", P.POSITIONAL_OR_KEYWORD, default=None, annotation=gr.Request)])
        endpoint.__annotations__ = {"request": gr.Request}  # gradio injects the request by this hint
        return endpoint

    return wrap


_SERVING: weakref.WeakSet[gr.Blocks] = weakref.WeakSet()  # the apps this process serves (their queues)


def _left(request: gr.Request | None) -> Callable[[], bool]:
    """Whether the page or program that sent ``request`` has gone: gradio marks its events no longer alive
    when its connection closes, and checks that between a generator's outputs; a job that shows only its
    progress reads the same mark here (gradio's queue), so a closed page stops its work."""
    session = _session(request)

    def gone() -> bool:
        queues = [getattr(demo, "_queue", None) for demo in list(_SERVING)]
        return any(getattr(e, "session_hash", None) == session and not getattr(e, "alive", True)
                   for q in queues for jobs in (getattr(q, "active_jobs", None) or []) for e in (jobs or []))

    return gone


def _tell(notes: list[str]) -> None:
    """What the visitor should know of their run, in the corner of the page."""
    for note in notes:
        gr.Warning(note)


# --- endpoints -----------------------------------------------------------------------------------
@_endpoint("image")
async def restore_image_endpoint(image: str | None, given: dict[str, Any], run: Watched):
    """Restore one image (on ZeroGPU in one GPU call sized to it). Yields (before/after preview pair,
    full-resolution file, metrics, faces); the metrics' warnings say what the visitor should know (a
    model this server lacks, replaced by its nearest stand-in)."""
    src = _upload(image, "image")

    def work(cancel: Any, moved: Callable[[float, str], None]) -> Any:
        opts, notes = catalogue.visitor_job(given)
        out = host().restore_image(src, opts, moved)
        out.metrics["warnings"] = [*notes, *out.metrics.get("warnings", [])]
        return out

    job = background.Background(work, "image-job")
    async for _ in background.watch(job, run.report, gone=run.gone):
        pass
    out = job.result()
    _tell(out.metrics["warnings"])
    yield (out.before, out.after), out.file, out.metrics, out.faces


@_endpoint("batch")
async def restore_batch_endpoint(files: list[str] | None, given: dict[str, Any], run: Watched):
    """Restore many images and/or zips with the library's ``restore_folder``. Yields the gallery as
    files finish; the last value is (gallery previews, one zip with a report beside the pictures,
    per-file report). A file that cannot be done (unreadable, or black and white with no colorizer
    here) is reported and the others go on; a batch stopped part-way still delivers what it finished."""
    if not files:
        raise RestorationError("No files given: upload images or a zip first.")
    opts, notes = await asyncio.to_thread(catalogue.visitor_job, given)
    job = await asyncio.to_thread(host().batch, [_upload(f, "file") for f in files], given, opts)
    batch, shown = job.request, [0]

    def grown() -> Any:  # the gallery, each time a file is finished
        if len(batch.gallery) == shown[0]:
            return None
        shown[0] = len(batch.gallery)
        return list(batch.gallery), gr.skip(), batch.report

    try:
        try:
            running = background.Background(job.run, "batch-job")
            async for update in background.watch(running, run.report, grown, run.gone):
                yield update
            running.result()
        except RestorationError as e:  # stopped part-way (not cancelled): deliver what is done
            if not batch.stopped(e, words.for_visitor(e)):
                raise
            notes.append(f"The batch stopped after {len(batch.report['restored'])} file(s): {batch.report['stopped']}")
        if notes:
            batch.report["notes"] = notes
        archive = await asyncio.to_thread(batch.finish)
    except BaseException:  # refused as a whole: nothing of it stays (on ZeroGPU what is done, to resume)
        job.abandon()
        raise
    _tell(notes)
    yield batch.gallery, (str(archive) if archive else None), batch.report


@_endpoint("video", *api.VIDEO_PARAMS)
async def restore_video_endpoint(video: str | None, given: dict[str, Any], run: Watched):
    """Restore one video, audio kept; a Stop or a closed page stops it. Yields (playable video or None,
    file to download, metrics)."""
    src = _upload(video, "video", settings().max_video_mb)
    opts, notes = await asyncio.to_thread(catalogue.visitor_job, given)
    vopts = await asyncio.to_thread(_video_options, given)
    job = await asyncio.to_thread(host().video, src, given, opts, vopts)
    try:
        running = background.Background(job.run, "video-job")
        async for _ in background.watch(running, run.report, gone=run.gone):
            pass
        res = running.result()
    except BaseException:  # a new request cannot resume this job's parts (on ZeroGPU it can): remove them
        job.abandon()
        raise
    res.metrics["warnings"] = [*notes, *res.metrics.get("warnings", [])]
    _tell(res.metrics["warnings"])
    yield (str(res.path) if res.path.suffix in (".mp4", ".webm") else None), str(res.path), res.metrics


@_endpoint("video", *api.VIDEO_PARAMS, *api.PREVIEW_PARAMS)
async def preview_video_endpoint(video: str | None, given: dict[str, Any], run: Watched):
    """A stretch of the video (``at`` seconds in, ``seconds`` long; 0: one frame) restored with these settings:
    yields (the first frame before and after, the restored stretch, a line with the estimate for the whole)."""
    src = _upload(video, "video", settings().max_video_mb)
    opts, notes = await asyncio.to_thread(catalogue.visitor_job, given)
    vopts = await asyncio.to_thread(_video_options, given)
    at = float(given.get("at") or 0)
    seconds = 2.0 if given.get("seconds") in (None, "") else float(given["seconds"])
    job = background.Background(lambda cancel, moved: host().preview(src, opts, vopts, at, seconds, moved),
                                "preview-job")
    async for _ in background.watch(job, run.report, gone=run.gone):
        pass
    p = job.result()
    _tell(notes)
    yield (str(p.before), str(p.after)), str(p.video), " ".join([p.summary, *notes])


async def compare_endpoint(image: str | None, left: str | None, right: str | None, upscale: float | None,
                           request: gr.Request, progress: gr.Progress = gr.Progress()) -> tuple[Any, str]:
    """Two upscalers (``left``, ``right``: ids or the visitor's added models) on the same crop of the photo's
    centre, every other stage off; returns (the two pictures, a line saying which is which and how long
    each took)."""
    try:
        with visitors.visitor_scope(_visitor(request)):
            src, scale = _upload(image, "image"), 4.0 if upscale is None else upscale
            runs = [(m, visitors.visitor_options({"preset": "none", "model": m, "upscale": scale, "denoise": 0,
                                                  "colorize": "off", "face": "off", "sharpen": 0}))
                    for m in (left, right) if m]
            if len(runs) != 2:
                raise RestorationError("Compare: choose an upscaler on each side.")
            job = background.Background(lambda cancel, moved: host().compare(src, runs, moved), "compare-job")
            async for _ in background.watch(job, lambda f, m: progress(f, desc=m)):
                pass
            shown, said = job.result()
    except Exception as e:  # noqa: BLE001 - a refusal is a message, never a dead server
        raise gr.Error(words.for_visitor(e)) from e
    return (shown[0], shown[1]), f"Left: {said[0]} · right: {said[1]} (a crop of the centre, ×{scale:g})."


def _visitor(request: gr.Request | None) -> str | None:  # a signed-in Hugging Face user, else the session
    return visitors.visitor_key(getattr(request, "username", None), getattr(request, "session_hash", None))


def _as_visitor(request: gr.Request | None, fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)`` for the visitor of ``request``; a refusal reaches them in their words."""
    try:
        with visitors.visitor_scope(_visitor(request)):
            return fn(*args)
    except Exception as e:  # noqa: BLE001 - a refused file is a message, nothing is stored or removed
        raise gr.Error(words.for_visitor(e)) from e


def add_model_endpoint(file: str | None, request: gr.Request) -> dict[str, Any]:
    """Add a model file (checked with spandrel) for this visitor (see ``RESTORATION_USER_MODELS``).
    Returns what it is; its ``name`` (the file's name) is how it is chosen from then on."""
    return _as_visitor(request, visitors.add_model, file, settings().max_model_mb)


def remove_model_endpoint(name: str | None, request: gr.Request) -> list[dict[str, Any]]:
    """Remove an added model of this visitor by its ``name``; returns the models they still have."""
    return _as_visitor(request, visitors.remove_model, name)


def list_models_endpoint(request: gr.Request) -> list[dict[str, Any]]:
    """The catalogue, each with where it is (``available``), then the models this visitor added."""
    return _as_visitor(request, catalogue.catalogue)


# --- agents (MCP) --------------------------------------------------------------------------------
def _agent_tool(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` (an ``agents`` tool, whose last argument is the ``Caller``) as gradio serves it: its own
    arguments, then the request; a refusal reaches the agent in the visitor's words."""

    def tool(*args: Any) -> Any:
        *values, request = args
        try:
            with visitors.visitor_scope(_visitor(request)):
                root = config.get("GRADIO_ROOT_PATH") or ""
                caller = agents.Caller(host(), agents.base_url(dict(request.headers), root))
                return fn(*values, caller=caller)
        except Exception as e:  # noqa: BLE001 - every failure becomes a message, never a dead server
            raise gr.Error(words.for_visitor(e)) from e

    functools.update_wrapper(tool, fn)
    P, hints = inspect.Parameter, typing.get_type_hints(fn)
    params = [p.replace(kind=P.POSITIONAL_OR_KEYWORD, annotation=hints[p.name])
              for p in inspect.signature(fn).parameters.values() if p.name != "caller"]
    request = P("request", P.POSITIONAL_OR_KEYWORD, default=None, annotation=gr.Request)
    tool.__signature__ = inspect.Signature([*params, request], return_annotation=hints["return"])
    tool.__annotations__ = {**{p.name: p.annotation for p in params}, "request": gr.Request, "return": hints["return"]}
    return tool


def _for_agents(server: Any) -> None:
    """Gradio's MCP server made for agents: only the agents' tools are listed (not the UI's events, nor
    batch, nor adding models), and a picture a tool returns (a data URL) reaches the agent as an image."""
    wanted = {f"/{api.api_name(api.AGENT_PREFIX + name)}" for name in agents.TOOLS}
    server.tool_to_endpoint = {t: e for t, e in server.tool_to_endpoint.items() if e in wanted}
    plain = server.postprocess_output_data

    def content(data: list[Any], root_url: str) -> list[Any]:
        out = []  # a tool with several outputs comes as one tuple of them
        for item in (x for d in data for x in (d if isinstance(d, (tuple, list)) else [d])):
            if isinstance(item, str) and item.startswith("data:image/") and ";base64," in item:
                mime, b64 = item[5:].split(";base64,", 1)
                out.append(server.types.ImageContent(type="image", data=b64, mimeType=mime))
            else:
                out.extend(plain([item], root_url))
        return out

    server.postprocess_output_data = content


def _result_file(folder: str, name: str) -> Any:
    """``/results/<request folder>/<file>``: a result by its request, never by a server path."""
    from fastapi import HTTPException
    from fastapi.responses import FileResponse

    path = folders.result_file(settings().output_root, folder, name)
    if path is None:
        raise HTTPException(status_code=404, detail="no such result (results are kept for a limited time)")
    return FileResponse(path, filename=name, content_disposition_type="inline")


# --- the UI --------------------------------------------------------------------------------------
_PRESET_CONTROLS = ("upscale", "model", "denoise", "colorize", "color_model", "sharpen", "face")
DENOISE_CHOICES = [("auto (measured)", "auto"), ("off", "0"), ("5 (light)", "5"), ("10", "10"), ("15 (medium)", "15"),
                   ("20", "20"), ("25 (strong)", "25"), ("30", "30")]
CSS = catalogue.TABLE_CSS + """
.slider-sides { display: flex; justify-content: space-between; font-size: 0.85em; opacity: 0.8; margin: 0 4px -4px; }
.preset-note { font-size: 0.9em; }
"""


def _refresh_menus(names: list[str], request: gr.Request | None) -> list[Any]:
    """The model menus ``names`` (in output order) and the removal menu, as this visitor sees them."""
    with visitors.visitor_scope(_visitor(request)):
        menus = [catalogue.menu_choices(visitors.MENU_OPTIONS.get(n, "colorization")) for n in names]
        return [gr.update(choices=c) for c in (*menus, [(i["name"], i["name"]) for i in visitors.added_models()])]


def _menu_value(name: str, value: Any) -> Any:
    return ("auto" if value == "auto" else f"{value:g}") if name == "denoise" else value


def _preset_values(preset: str | None) -> list[Any]:
    """The preset's values for the option widgets, each model this server lacks replaced by its nearest
    stand-in here (no change for "none" and "custom"), and the note that says what was replaced."""
    p = PRESETS.get(preset or NO_PRESET)
    if p is None:
        return [*(gr.update() for _ in _PRESET_CONTROLS), ""]
    here, notes = catalogue.for_here(p, set())
    note = ("**On this server:** " + "; ".join(words.markdown_text(n) for n in notes) + ".") if notes else ""
    return [*(_menu_value(name, getattr(here, name)) for name in _PRESET_CONTROLS), note]


def _widget(name: str, value: Any = None, choices: Any = None, **kw: Any) -> gr.components.Component:
    """The widget of option ``name`` as the library's ``FIELDS`` define it; ``value`` None is "not given"."""
    f = field(name)
    kw = {"label": f.label, "info": f.hint, "value": value, **kw}
    if choices is not None or (f.choices is not None and len(f.choices) > 3):  # models: a menu, however few
        return Dropdown(list(f.choices) if choices is None else choices, **kw)
    if f.choices is not None:
        return Radio(list(f.choices), **kw)
    return Slider(f.lo, f.hi, step=f.step, **kw)


def _option_widgets(images: bool) -> dict[str, Any]:
    """The option widgets of a panel, by option name."""
    w: dict[str, Any] = {}
    with gr.Accordion("Faces", open=False), gr.Row():
        w["face"] = _widget("face", choices=catalogue.menu_choices("face-restoration"), allow_custom_value=True)
        w["face_fidelity"] = _widget("face_fidelity")
        w["face_mask"] = _widget("face_mask", value="box")
    with gr.Accordion("Advanced settings", open=False):
        with gr.Row():
            w["upscale"] = _widget("upscale", scale=1)
            w["model"] = _widget("model", choices=catalogue.menu_choices("super-resolution"), allow_custom_value=True,
                                 scale=2, min_width=300)
        with gr.Row():
            w["denoise"] = Dropdown(DENOISE_CHOICES, value=None, label=field("denoise").label, allow_custom_value=True,
                                    info="auto measures the noise (none on a clean picture); or a strength 0-30")
            w["denoise_model"] = _widget("denoise_model", choices=catalogue.menu_choices("restoration"), value="nlm",
                                         allow_custom_value=True)
            w["sharpen"] = _widget("sharpen")
        with gr.Row():
            w["colorize"] = _widget("colorize")
            w["color_model"] = _widget("color_model", choices=catalogue.menu_choices("colorization"))
            w["output_format"] = _widget("output_format", "png", [f for f in field("output_format").choices
                                                                  if f != "bmp"], visible=images)
    return w


def _options_panel(tab: str, default_preset: str = "old-photo", images: bool = True) -> tuple[Any, ...]:
    """The preset and the option widgets (``OPTION_PARAMS`` order), "not given" until the page fills them from
    the preset (an API caller gets the preset's values); ``images`` False hides what only images use. The
    preset reads "custom" once a visitor changes one of its settings."""
    preset = Dropdown([NO_PRESET, visitors.CUSTOM, *PRESETS], value=default_preset, label="Preset",
                      elem_id=f"preset-{tab}")
    note = gr.Markdown(elem_id=f"preset-note-{tab}", elem_classes=["preset-note"])
    w = _option_widgets(images)
    controls = [w[n] for n in _PRESET_CONTROLS]
    preset.change(_preset_values, preset, [*controls, note], api_visibility="private", queue=False)
    for widget in controls:  # a visitor's own change (not the preset filling it) makes the settings custom
        widget.input(lambda: visitors.CUSTOM, None, preset, api_visibility="private", queue=False)
    # The page shows the chosen face model's own default fidelity (an API caller who sends none gets it too).
    w["face"].change(default_fidelity, w["face"], w["face_fidelity"], api_visibility="private", queue=False)
    return preset, [w[n] for n in OPTION_PARAMS[1:]], note


def _run_button(button: gr.Button, status: gr.Markdown, tab: str, endpoint: str, **event: Any) -> Any:
    """The run of ``button``'s tab (``event``: ``endpoint``'s function and wiring). First, in one chain, the
    status line and every output of the last run are emptied (no earlier result stays on show as if it
    were this run's); a run that did not end well says why in the status line (stopped, or failed)."""

    def start(request: gr.Request) -> list[Any]:
        STATUS.start(_session(request), tab)
        return ["", *(None for _ in event["outputs"])]

    def ended_badly(request: gr.Request) -> str:
        return STATUS.status(_session(request), tab)

    run = button.click(start, None, [status, *event["outputs"]], api_visibility="private", queue=False).then(
        **event, api_name=api.api_name(endpoint), concurrency_id="gpu", concurrency_limit=settings().concurrency)
    run.failure(ended_badly, None, status, api_visibility="private", queue=False)
    return run


def _stop_button(stop: gr.Button, event: Any, status: gr.Markdown, tab: str) -> None:
    """Stop cancels ``event``'s run; the status line says it stopped and how far it got (never "failed")."""

    def stopped(request: gr.Request) -> str:
        return STATUS.stop(_session(request), tab)

    stop.click(stopped, None, status, cancels=[event], api_visibility="private", queue=False)


def _image_tab() -> tuple[Any, ...]:
    """The Image tab; returns its options panel (preset, controls, note)."""
    examples = sorted(p for p in EXAMPLES_DIR.glob("*") if p.suffix.lower() in INPUT_EXTENSIONS)
    with gr.Tab("Image"), gr.Row():
        with gr.Column(scale=1):
            image_in = UploadedImage(type="filepath", image_mode=None, label="Photo",
                                     sources=["upload", "clipboard", "webcam"], elem_id="photo-in")
            run = gr.Button("Restore", variant="primary", size="lg", elem_id="restore")
            panel = _options_panel("image")
            if examples:
                gr.Examples([[str(p)] for p in examples], inputs=[image_in], label="Examples")
        with gr.Column(scale=2):
            gr.HTML('<div class="slider-sides" id="slider-sides"><span>◀ before</span><span>after ▶</span></div>')
            slider = gr.ImageSlider(label="Before / after (drag the line)", type="filepath", elem_id="result")
            download = gr.File(label="Download (full resolution)")
            table = gr.Dataframe(headers=["measure", "input", "result"], label="Metrics", interactive=False,
                                 wrap=True, column_widths=["34%", "26%", "40%"], elem_id="metrics")
            face_gallery = gr.Gallery(label="Faces (before / after)", columns=6, height="auto",
                                      object_fit="contain", elem_id="faces", visible=False)
            metrics = gr.JSON(label="Metrics (all)", visible=False)
            status = gr.Markdown(elem_id="status-image")
            _compare_section(image_in)
        event = _run_button(run, status, "image", api.RESTORE_IMAGE, fn=restore_image_endpoint,
                            inputs=[image_in, panel[0], *panel[1]], outputs=[slider, download, metrics, face_gallery])
        event.success(metrics_table, metrics, table, api_visibility="private", queue=False).success(
            lambda m: gr.update(visible=bool(((m or {}).get("faces") or {}).get("restored"))), metrics,
            face_gallery, api_visibility="private", queue=False)  # the faces, when some were restored
    return panel


def _compare_section(image_in: Any) -> None:
    """Two upscalers side by side on the same photo (a crop of its centre), before choosing one."""
    with gr.Accordion("Compare two upscalers", open=False, elem_id="compare"):
        gr.Markdown("Both run on the same crop of the photo's centre (at most 160 px a side), every other "
                    "stage off, so the comparison costs seconds.")
        with gr.Row():
            first = _widget("model", choices=catalogue.menu_choices("super-resolution"), allow_custom_value=True,
                            label="Left", info=None, value=catalogue.best_available("super-resolution"),
                            elem_id="compare-left")
            second = _widget("model", choices=catalogue.menu_choices("super-resolution"), allow_custom_value=True,
                             label="Right", info=None, value=_second_upscaler(), elem_id="compare-right")
            scale = _widget("upscale", value=4, label="Upscale", info=None)
        go = gr.Button("Compare", elem_id="compare-run")
        shown = gr.ImageSlider(label="Left / right", type="filepath", elem_id="compare-result")
        said = gr.Markdown(elem_id="compare-said")
        go.click(compare_endpoint, [image_in, first, second, scale], [shown, said],
                 api_name=api.api_name(api.COMPARE), concurrency_id="gpu", concurrency_limit=settings().concurrency)


def _second_upscaler() -> str | None:
    best = catalogue.best_available("super-resolution")
    return next((m for m in catalogue.UPSCALERS if m != best and catalogue.usable(m)), best)


def _video_options(given: dict[str, Any]) -> Any:
    """The video options a visitor gave (an interpolation model by its catalogue id: a server's files are
    not theirs to name), its model checked before any work."""
    from restoration.jobs import check_interpolation_model
    from restoration.refs import check_not_a_path

    whole = {k: None if given.get(k) in (None, "") else int(round(float(given[k]))) for k in ("crf", "interpolate")}
    fps = given.get("fps")
    fps = None if fps in (None, "", 0) else float(fps)
    model = given.get("interpolation_model") or None
    if model is not None:
        check_not_a_path(model, "interpolation_model")
    vopts = build_video_options(codec=given.get("codec"), **whole, fps=fps, interpolation_model=model,
                                deinterlace=given.get("deinterlace") or None, encoder=given.get("encoder") or None)
    check_interpolation_model(vopts)
    return vopts


def _video_tab() -> tuple[Any, ...]:
    """The Video tab; returns its options panel (preset, controls, note)."""
    with gr.Tab("Video"), gr.Row():
        with gr.Column(scale=1):
            video_in = gr.Video(label="Video", sources=["upload"], elem_id="video-in")
            with gr.Row():
                run = gr.Button("Restore video", variant="primary", size="lg", elem_id="restore-video")
                stop = gr.Button("Stop", variant="stop", size="lg", elem_id="stop-video")
            panel = _options_panel("video", default_preset="video", images=False)
            settings_ = _video_settings()
        with gr.Column(scale=2):
            _preview_section(video_in, panel, settings_)
            video_out = gr.Video(label="Restored", elem_id="video-out")
            video_file = gr.File(label="Download", elem_id="video-file")
            summary = gr.Markdown(elem_id="video-summary")
            video_metrics = gr.JSON(label="Metrics", visible=False)
            status = gr.Markdown(elem_id="status-video")
        event = _run_button(run, status, "video", api.RESTORE_VIDEO, fn=restore_video_endpoint,
                            inputs=[video_in, panel[0], *panel[1], *settings_],
                            outputs=[video_out, video_file, video_metrics])
        event.then(words.video_summary, video_metrics, summary, api_visibility="private", queue=False)
        _stop_button(stop, event, status, "video")
    return panel


def _video_settings() -> list[Any]:
    """The Video tab's own settings, in ``VIDEO_PARAMS`` order: encoding, smoother motion, old footage."""
    with gr.Accordion("Old footage (interlaced, telecined)", open=False, elem_id="old-footage"):
        fields = _widget("deinterlace", value=field("deinterlace").default, elem_id="deinterlace")
    with gr.Accordion("Smoother motion (frame interpolation)", open=False, elem_id="interpolation"):
        multiplier = _widget("interpolate", value=1, elem_id="interpolate")
        with gr.Row():
            fps = gr.Number(label=field("fps").label, info="0: keep the frame rate (or use the multiplier)",
                            value=None, minimum=0, maximum=field("fps").hi, elem_id="target-fps")
            rife = _widget("interpolation_model", value=field("interpolation_model").default,
                           choices=catalogue.menu_choices("interpolation"), elem_id="interpolation-model")
    with gr.Accordion("Video encoding", open=False):
        with gr.Row():
            codec = _widget("codec", field("codec").default)
            encoder = _widget("encoder", field("encoder").default)
        crf = _widget("crf", value=field("crf").default)
    return [codec, crf, multiplier, fps, rife, fields, encoder]


def _preview_section(video_in: Any, panel: tuple[Any, ...], settings_: list[Any]) -> None:
    """Preview: a stretch (or one frame) restored with the tab's settings, before and after, and how long the
    whole video would take at that pace."""
    with gr.Accordion("Preview a few seconds first", open=False, elem_id="preview"):
        with gr.Row():
            at = gr.Number(label="From (seconds)", value=0, minimum=0, elem_id="preview-at")
            seconds = gr.Dropdown([("one frame", 0), ("2 seconds", 2), ("5 seconds", 5)], value=2,
                                  label="Length", elem_id="preview-seconds")
            go = gr.Button("Preview", elem_id="preview-run")
        pair = gr.ImageSlider(label="Before / after (the first frame)", type="filepath", elem_id="preview-pair")
        clip = gr.Video(label="Preview", elem_id="preview-video")
        said = gr.Markdown(elem_id="preview-said")
    go.click(preview_video_endpoint, [video_in, panel[0], *panel[1], *settings_, at, seconds], [pair, clip, said],
             api_name=api.api_name(api.PREVIEW_VIDEO), concurrency_id="gpu", concurrency_limit=settings().concurrency)


def _batch_tab() -> tuple[Any, ...]:
    """The Batch tab; returns its options panel (preset, controls, note)."""
    with gr.Tab("Batch"), gr.Row():
        with gr.Column(scale=1):
            files_in = gr.File(file_count="multiple", label="Images or zip archives",
                               file_types=[*INPUT_EXTENSIONS, ".zip"], elem_id="batch-in")
            with gr.Row():
                run = gr.Button("Restore all", variant="primary", size="lg", elem_id="restore-batch")
                stop = gr.Button("Stop", variant="stop", size="lg", elem_id="stop-batch")
            panel = _options_panel("batch")
        with gr.Column(scale=2):
            gallery = gr.Gallery(label="Results", columns=4)
            archive = gr.File(label="Download all (zip, with the report)")
            table = gr.Dataframe(headers=list(folders.REPORT_HEAD), label="Report", interactive=False, wrap=True,
                                 elem_id="batch-report")
            report = gr.JSON(label="Report (data)", visible=False)
            status = gr.Markdown(elem_id="status-batch")
        event = _run_button(run, status, "batch", api.RESTORE_BATCH, fn=restore_batch_endpoint,
                            inputs=[files_in, panel[0], *panel[1]], outputs=[gallery, archive, report])
        event.then(words.batch_table, report, table, api_visibility="private", queue=False)
        event.success(words.batch_status, report, status, api_visibility="private", queue=False)
        _stop_button(stop, event, status, "batch")
    return panel


def _models_tab(demo: gr.Blocks, panels: list[tuple[Any, ...]]) -> None:
    """The Models & About tab: what the server has, and a visitor's own models (by their file names),
    whose adding and removing say so in words and refresh every tab's model menus."""
    with gr.Tab("Models & About"):
        about = gr.Markdown(elem_id="about")
        gr.Markdown(visitors.USER_MODELS_NOTE[settings().user_models], elem_id="user-models-note")
        with gr.Row():
            model_file = gr.File(label="Add a model (.safetensors recommended, .pth, .ckpt)",
                                 file_types=[".safetensors", ".pth", ".ckpt"], elem_id="model-in")
            with gr.Column():
                add_button = gr.Button("Add model", variant="primary", elem_id="add-model")
                remove_menu = Dropdown([], value=None, label="Your added models", elem_id="added-models",
                                       allow_custom_value=True)
                remove_button = gr.Button("Remove", variant="stop", elem_id="remove-model")
                said = gr.Markdown(elem_id="models-said")
                added_info = gr.JSON(label="Added", visible=False)
        table = gr.HTML(elem_id="catalogue")
        catalogue_box = gr.JSON(label="Catalogue", visible=False)
    demo.load(list_models_endpoint, None, catalogue_box, api_name=api.api_name(api.LIST_MODELS)).then(
        catalogue.catalogue_html, catalogue_box, table, api_visibility="private", queue=False)
    demo.load(lambda: catalogue.about_text({"gradio": gr.__version__}), None, about, api_visibility="private",
              queue=False)
    menus = [(n, w) for _, controls, _ in panels for n, w in zip(OPTION_PARAMS[1:], controls)
             if n in (*visitors.MENU_OPTIONS, "color_model")]

    def refresh_menus(request: gr.Request) -> list[Any]:  # as this visitor sees them
        return _refresh_menus([n for n, _ in menus], request)

    refresh = dict(fn=refresh_menus, inputs=None, outputs=[*(w for _, w in menus), remove_menu],
                   api_visibility="private", queue=False)
    demo.load(**refresh)
    for button, fn, widget, name, say in ((add_button, add_model_endpoint, model_file, api.ADD_MODEL, words.added),
                                          (remove_button, remove_model_endpoint, remove_menu, api.REMOVE_MODEL,
                                           words.removed)):
        button.click(fn, widget, added_info, api_name=api.api_name(name)).success(
            say, [added_info, widget], said, api_visibility="private", queue=False).success(**refresh).then(
            list_models_endpoint, None, catalogue_box, api_visibility="private", queue=False).then(
            catalogue.catalogue_html, catalogue_box, table, api_visibility="private", queue=False)


def build_app() -> gr.Blocks:
    """The app: its tabs, the agents' tools, and each options panel filled from its preset on load."""
    cfg = settings()
    visitors.forget_sessions()  # the sessions of an earlier run of the server are gone, and their models
    with Blocks(title="Restoration", delete_cache=(1800, cfg.output_ttl_s)) as demo:
        gr.Markdown("# Restoration\nOld, small, noisy or black-and-white photos in; restored ones out.")
        if host().where:
            gr.Markdown(f"Batch and video jobs run on {host().where}.", elem_id="cluster-note")
        panels = [_image_tab(), _video_tab(), _batch_tab()]
        _models_tab(demo, panels)
        for name, fn in agents.TOOLS.items():  # for AI agents (MCP) and any REST caller
            gr.api(_agent_tool(fn), api_name=api.api_name(api.AGENT_PREFIX + name), concurrency_id="gpu",
                   concurrency_limit=cfg.concurrency if name != "list_models" else None)
        for preset, controls, note in panels:
            by_name = dict(zip(OPTION_PARAMS[1:], controls))
            demo.load(_preset_values, preset, [*(by_name[n] for n in _PRESET_CONTROLS), note],
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
    background.stop_on_sigterm()  # docker stop, a Space's restart, any supervisor: jobs stop, the server closes
    # gradio's cap is the larger of the two; each endpoint then holds its own kind to its own limit
    demo.launch(server_name=config.get("GRADIO_SERVER_NAME"), server_port=config.get("GRADIO_SERVER_PORT"),
                max_file_size=f"{max(cfg.max_upload_mb, cfg.max_video_mb, cfg.max_model_mb)}mb")
    return 0


if __name__ == "__main__":
    sys.exit(main())
