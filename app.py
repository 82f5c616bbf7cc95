"""Gradio app: Image, Video, Batch and Models tabs over the ``restoration`` library, whose
``restoration.server`` package does what a server does around a job; this file adapts widgets and
events to it. Every event has an explicit ``api_name`` (names shared with ``client/``), so the browser and
remote programs use the same queued endpoints. Run with ``python app.py``."""

from __future__ import annotations

import functools
import inspect
import logging
import math
import sys
import typing
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
from restoration.catalog import model_ids
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
        hold = not kwargs.pop("prevent_thread_lock", False) and not bool(getattr(sys, "ps1", sys.flags.interactive))
        launched = super().launch(*args, prevent_thread_lock=True, **kwargs)
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
ERRORS = words.LastErrors()


def _fail(e: BaseException, request: gr.Request | None, tab: str) -> gr.Error:
    """``e`` as the visitor's message, kept for the status line of ``tab`` until the next run."""
    message = e.message if isinstance(e, gr.Error) else words.for_visitor(e)
    ERRORS.put(request.session_hash if request is not None else None, tab, message)
    return e if isinstance(e, gr.Error) else gr.Error(message)


def _upload(path: str | None, what: str, limit_mb: int | None = None) -> Path:
    return folders.check_upload(path, what, limit_mb or settings().max_upload_mb)


def _endpoint(tab: str, *extra: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A restore endpoint, a generator ``fn(media, given, report)``, as gradio sees it: the media, then each
    option of ``OPTION_PARAMS`` (and ``extra``) by name, None ("not given") unless sent, for this visitor;
    a failure reaches them in their words and stays in ``tab``'s status line until the next run."""
    names = (*OPTION_PARAMS, *extra)

    def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
        def endpoint(media: Any, *args: Any) -> Any:
            *values, progress, request = args
            try:
                with visitors.visitor_scope(_visitor(request)):
                    return (yield from fn(media, dict(zip(names, values)), lambda f, m: progress(f, desc=m)))
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


# --- endpoints -----------------------------------------------------------------------------------
@_endpoint("image")
def restore_image_endpoint(image: str | None, given: dict[str, Any], report: Callable[[float, str], None]):
    """Restore one image (on ZeroGPU in one GPU call sized to it). Yields (before/after preview pair,
    full-resolution file, metrics, faces)."""
    out = host().restore_image(_upload(image, "image"), visitors.visitor_options(given), report)
    for warning in out.metrics.get("warnings", []):
        gr.Warning(warning)
    yield (out.before, out.after), out.file, out.metrics, out.faces


@_endpoint("batch")
def restore_batch_endpoint(files: list[str] | None, given: dict[str, Any], report: Callable[[float, str], None]):
    """Restore many images and/or zips with the library's ``restore_folder``. Yields the gallery as
    files finish; the last value is (gallery previews, one zip, per-file report). A batch that stops
    part-way (a model missing for one of its pictures) still delivers the files it finished."""
    if not files:
        raise RestorationError("No files given: upload images or a zip first.")
    job = host().batch([_upload(f, "file") for f in files], given, visitors.visitor_options(given))
    batch = job.request
    try:
        try:
            yield from background.in_background(job.run, "batch-job", report,
                                                lambda: (list(batch.gallery), gr.skip(), batch.report))
        except RestorationError as e:  # stopped part-way (not cancelled): deliver what is done
            if not batch.stopped(e, words.for_visitor(e)):
                raise
            gr.Warning(f"The batch stopped after {len(batch.report['restored'])} file(s): {batch.report['stopped']}")
        archive = batch.finish()
    except BaseException:  # refused as a whole: nothing of it stays (on ZeroGPU what is done, to resume)
        job.abandon()
        raise
    yield batch.gallery, (str(archive) if archive else None), batch.report


@_endpoint("video", *api.VIDEO_PARAMS)
def restore_video_endpoint(video: str | None, given: dict[str, Any], report: Callable[[float, str], None]):
    """Restore one video, audio kept. Yields while it works (so a cancel or a closed page stops it);
    the last value is (playable video or None, file to download, metrics)."""
    src, opts = _upload(video, "video", settings().max_video_mb), visitors.visitor_options(given)
    crf = given.get("crf")
    vopts = build_video_options(codec=given.get("codec"), crf=None if crf is None else int(round(float(crf))))
    job = host().video(src, given, opts, vopts)
    try:
        res = yield from background.in_background(job.run, "video-job", report, lambda: (gr.skip(),) * 3)
    except BaseException:  # a new request cannot resume this job's parts (on ZeroGPU it can): remove them
        job.abandon()
        raise
    for warning in res.metrics.get("warnings", []):
        gr.Warning(warning)
    yield (str(res.path) if res.path.suffix in (".mp4", ".webm") else None), str(res.path), res.metrics


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
    """Add a model file (checked with spandrel, stored under its content hash) for this visitor (see
    ``RESTORATION_USER_MODELS``). Returns what it is; its ``name`` is how it is chosen from then on."""
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


def _refresh_menus(names: list[str], request: gr.Request | None) -> list[Any]:
    """The model menus ``names`` (in output order) and the removal menu, as this visitor sees them."""
    with visitors.visitor_scope(_visitor(request)):
        return [gr.update(choices=c) for c in (*map(catalogue.menu_choices, (visitors.MENU_OPTIONS[n] for n in names)),
                                               [(i["file"], i["name"]) for i in visitors.added_models()])]


def _preset_values(preset: str | None) -> list[Any]:
    """The preset's values for the option widgets (no change for "none")."""
    p = PRESETS.get(preset or NO_PRESET)
    return [gr.update() if p is None else getattr(p, name) for name in _PRESET_CONTROLS]


def _widget(name: str, value: Any = None, choices: Any = None, **kw: Any) -> gr.components.Component:
    """The widget of option ``name`` as the library's ``FIELDS`` define it; ``value`` None is "not given"."""
    f = field(name)
    kw = {"label": f.label, "info": f.hint, "value": value, **kw}
    if choices is not None or (f.choices is not None and len(f.choices) > 3):  # models: a menu, however few
        return Dropdown(list(f.choices) if choices is None else choices, **kw)
    if f.choices is not None:
        return Radio(list(f.choices), **kw)
    return Slider(f.lo, f.hi, step=f.step, **kw)


def _options_panel(default_preset: str = "old-photo", images: bool = True) -> tuple[Any, list[Any]]:
    """The preset and the option widgets (``OPTION_PARAMS`` order), "not given" until the page fills them from
    the preset (an API caller gets the preset's values); ``images`` False hides what only images use."""
    w: dict[str, Any] = {}
    preset = Dropdown([NO_PRESET, *PRESETS], value=default_preset, label="Preset")
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
            w["denoise"] = _widget("denoise")
            w["denoise_model"] = _widget("denoise_model", choices=catalogue.menu_choices("restoration"), value="nlm",
                                         allow_custom_value=True)
            w["sharpen"] = _widget("sharpen")
        with gr.Row():
            w["colorize"] = _widget("colorize")
            w["color_model"] = _widget("color_model", choices=model_ids("colorization"))
            w["output_format"] = _widget("output_format", "png", [f for f in field("output_format").choices
                                                                  if f != "bmp"], visible=images)
    preset.change(_preset_values, preset, [w[n] for n in _PRESET_CONTROLS], api_visibility="private", queue=False)
    # The page shows the chosen face model's own default fidelity (an API caller who sends none gets it too).
    w["face"].change(default_fidelity, w["face"], w["face_fidelity"], api_visibility="private", queue=False)
    return preset, [w[n] for n in OPTION_PARAMS[1:]]


def _run_button(button: gr.Button, status: gr.Markdown, tab: str, endpoint: str, **event: Any) -> Any:
    """The run of ``button``'s tab (``event``: ``endpoint``'s function and wiring); ``status`` is emptied first (in
    one chain: a second listener could empty it after a quick failure) and says why a run failed."""

    def failed(request: gr.Request) -> str:
        return ERRORS.status(request.session_hash if request is not None else None, tab)

    run = button.click(lambda: "", None, status, api_visibility="private", queue=False).then(
        **event, api_name=api.api_name(endpoint), concurrency_id="gpu", concurrency_limit=settings().concurrency)
    run.failure(failed, None, status, api_visibility="private", queue=False)
    return run


def _image_tab() -> tuple[Any, list[Any]]:
    """The Image tab; returns its options panel (preset, controls)."""
    examples = sorted(p for p in EXAMPLES_DIR.glob("*") if p.suffix.lower() in INPUT_EXTENSIONS)
    with gr.Tab("Image"), gr.Row():
        with gr.Column(scale=1):
            image_in = UploadedImage(type="filepath", image_mode=None, label="Photo",
                                     sources=["upload", "clipboard", "webcam"], elem_id="photo-in")
            run = gr.Button("Restore", variant="primary", size="lg", elem_id="restore")
            panel = _options_panel()
            if examples:
                gr.Examples([[str(p)] for p in examples], inputs=[image_in], label="Examples")
        with gr.Column(scale=2):
            slider = gr.ImageSlider(label="Before / after", type="filepath", elem_id="result")
            download = gr.File(label="Download (full resolution)")
            table = gr.Dataframe(headers=["measure", "input", "result"], label="Metrics", interactive=False,
                                 wrap=True, column_widths=["34%", "26%", "40%"], elem_id="metrics")
            face_gallery = gr.Gallery(label="Faces (before / after)", columns=6, height="auto",
                                      object_fit="contain", elem_id="faces", visible=False)
            metrics = gr.JSON(label="Metrics (all)", visible=False)
            status = gr.Markdown(elem_id="status-image")
        event = _run_button(run, status, "image", api.RESTORE_IMAGE, fn=restore_image_endpoint,
                            inputs=[image_in, panel[0], *panel[1]], outputs=[slider, download, metrics, face_gallery])
        event.success(metrics_table, metrics, table, api_visibility="private", queue=False).success(
            lambda m: gr.update(visible=bool(((m or {}).get("faces") or {}).get("restored"))), metrics,
            face_gallery, api_visibility="private", queue=False)  # the faces, when some were restored
    return panel


def _video_tab() -> tuple[Any, list[Any]]:
    """The Video tab; returns its options panel (preset, controls)."""
    with gr.Tab("Video"), gr.Row():
        with gr.Column(scale=1):
            video_in = gr.Video(label="Video", sources=["upload"], elem_id="video-in")
            with gr.Row():
                run = gr.Button("Restore video", variant="primary", size="lg", elem_id="restore-video")
                stop = gr.Button("Stop", variant="stop", size="lg")
            panel = _options_panel(default_preset="video", images=False)
            with gr.Accordion("Video encoding", open=False):
                codec = _widget("codec", field("codec").default)
                crf = _widget("crf", value=field("crf").default)
        with gr.Column(scale=2):
            video_out = gr.Video(label="Restored", elem_id="video-out")
            video_file = gr.File(label="Download")
            video_metrics = gr.JSON(label="Metrics")
            status = gr.Markdown(elem_id="status-video")
        event = _run_button(run, status, "video", api.RESTORE_VIDEO, fn=restore_video_endpoint,
                            inputs=[video_in, panel[0], *panel[1], codec, crf],
                            outputs=[video_out, video_file, video_metrics])
        stop.click(None, cancels=[event], api_visibility="private", queue=False)
    return panel


def _batch_tab() -> tuple[Any, list[Any]]:
    """The Batch tab; returns its options panel (preset, controls)."""
    with gr.Tab("Batch"), gr.Row():
        with gr.Column(scale=1):
            files_in = gr.File(file_count="multiple", label="Images or zip archives",
                               file_types=[*INPUT_EXTENSIONS, ".zip"], elem_id="batch-in")
            run = gr.Button("Restore all", variant="primary", size="lg", elem_id="restore-batch")
            panel = _options_panel()
        with gr.Column(scale=2):
            gallery = gr.Gallery(label="Results", columns=4)
            archive = gr.File(label="Download all (zip)")
            report = gr.JSON(label="Report")
            status = gr.Markdown(elem_id="status-batch")
        _run_button(run, status, "batch", api.RESTORE_BATCH, fn=restore_batch_endpoint,
                    inputs=[files_in, panel[0], *panel[1]], outputs=[gallery, archive, report]
                    ).success(words.batch_status, report, status, api_visibility="private", queue=False)
    return panel


def _models_tab(demo: gr.Blocks, panels: list[tuple[Any, list[Any]]]) -> None:
    """The Models & About tab: what the server has, and a visitor's own models, whose adding and removing
    refreshes every tab's model menus."""
    with gr.Tab("Models & About"):
        about = gr.Markdown(elem_id="about")
        gr.Markdown(visitors.USER_MODELS_NOTE[settings().user_models], elem_id="user-models-note")
        with gr.Row():
            model_file = gr.File(label="Add a model (.safetensors recommended, .pth, .ckpt)",
                                 file_types=[".safetensors", ".pth", ".ckpt"], elem_id="model-in")
            with gr.Column():
                add_button = gr.Button("Add model", variant="primary", elem_id="add-model")
                added_info = gr.JSON(label="Added")
                remove_menu = Dropdown([], value=None, label="Added models", elem_id="added-models",
                                       allow_custom_value=True)
                remove_button = gr.Button("Remove", variant="stop")
        catalogue_box = gr.JSON(label="Catalogue")
    demo.load(list_models_endpoint, None, catalogue_box, api_name=api.api_name(api.LIST_MODELS))
    demo.load(lambda: catalogue.about_text({"gradio": gr.__version__}), None, about, api_visibility="private",
              queue=False)  # what is on the server now
    menus = [(n, w) for _, controls in panels for n, w in zip(OPTION_PARAMS[1:], controls)
             if n in visitors.MENU_OPTIONS]

    def refresh_menus(request: gr.Request) -> list[Any]:  # as this visitor sees them
        return _refresh_menus([n for n, _ in menus], request)

    refresh = dict(fn=refresh_menus, inputs=None, outputs=[*(w for _, w in menus), remove_menu],
                   api_visibility="private", queue=False)
    demo.load(**refresh)
    for button, fn, widget, name in ((add_button, add_model_endpoint, model_file, api.ADD_MODEL),
                                     (remove_button, remove_model_endpoint, remove_menu, api.REMOVE_MODEL)):
        button.click(fn, widget, added_info, api_name=api.api_name(name)).success(**refresh).then(
            list_models_endpoint, None, catalogue_box, api_visibility="private", queue=False)


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
        for preset, controls in panels:
            by_name = dict(zip(OPTION_PARAMS[1:], controls))
            demo.load(_preset_values, preset, [by_name[n] for n in _PRESET_CONTROLS], api_visibility="private",
                      queue=False)
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
