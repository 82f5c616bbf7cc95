"""``RestorationClient``: typed calls to the app's endpoints through ``gradio_client``."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .endpoints import (
    ADD_MODEL,
    COMPARE,
    LIST_MODELS,
    OPTION_PARAMS,
    PREVIEW_VIDEO,
    REMOVE_MODEL,
    RESTORE_BATCH,
    RESTORE_IMAGE,
    RESTORE_VIDEO,
    VIDEO_PARAMS,
)


class ClientError(RuntimeError):
    """The server refused or failed a request; the message is the server's own."""


@dataclass(frozen=True)
class ImageResult:
    """``path``: the restored image, downloaded locally, in full resolution; ``metrics``: as the
    library reports them (psnr, ssim, sizes, seconds, faces...); ``faces``: each restored face's
    crop before and after (512 px previews), when the face stage ran."""

    path: Path
    metrics: dict[str, Any]
    preview: tuple[Path, Path] | None = None
    faces: list[tuple[Path, Path]] = field(default_factory=list)


@dataclass(frozen=True)
class VideoResult:
    """``path``: the restored video, downloaded locally; ``metrics``: frames, fps, sharpness, PSNR..."""

    path: Path
    metrics: dict[str, Any]


@dataclass(frozen=True)
class BatchResult:
    """``archive``: a zip of every restored file; ``files``: the previews; ``report``: per-file
    status and errors."""

    archive: Path | None
    report: dict[str, Any]
    files: list[Path] = field(default_factory=list)


@dataclass(frozen=True)
class VideoPreview:
    """A stretch of a video restored with the job's settings: its first frame ``before`` and ``after``
    (PNG), the restored stretch (``video``), and the server's line with the estimate for the whole."""

    before: Path
    after: Path
    video: Path
    said: str


@dataclass(frozen=True)
class Comparison:
    """The same crop of a photo's centre through two upscalers: ``left`` and ``right`` (PNG files) and the
    server's line saying which is which and how long each took."""

    left: Path
    right: Path
    said: str


def _options(given: dict[str, Any], extra: tuple[str, ...] = ()) -> list[Any]:
    """The endpoint's option arguments in order: what the caller gave, ``None`` for the rest (the
    server then keeps the preset's value, or the library's default)."""
    known = (*OPTION_PARAMS, *extra)
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise TypeError(f"unknown option(s) {', '.join(unknown)}; known: {', '.join(known)}")
    return [given.get(name) for name in known]


def _gallery(items: Any) -> list[Path]:
    """The image files of a gallery output (items are dicts, (image, caption) pairs or paths)."""
    files = []
    for item in items or []:
        if isinstance(item, dict):
            item = item.get("image")
        elif isinstance(item, (list, tuple)):
            item = item[0]
        p = _path(item)
        if p:
            files.append(p)
    return files


def _path(value: Any) -> Path | None:
    if value is None:
        return None
    if isinstance(value, dict):
        value = value.get("path") or value.get("value")
    return Path(value) if value else None


class RestorationClient:
    """Connect to ``src``: a URL (``http://host:7860``) or a Hugging Face Space id (``user/space``).

    ``token`` (or ``$HF_TOKEN``) is sent for private Spaces. ``download_dir`` is where result files are
    saved. Every method raises ``ClientError`` with the server's message when the server refuses.
    """

    def __init__(self, src: str, *, token: str | None = None, download_dir: str | os.PathLike | None = None,
                 verbose: bool = False):
        from gradio_client import Client

        kwargs: dict[str, Any] = {"verbose": verbose}
        token = token or os.environ.get("HF_TOKEN")
        if token:
            kwargs["token"] = token
        if download_dir:
            kwargs["download_files"] = str(download_dir)
        try:
            self._client = Client(src, **kwargs)
        except Exception as e:  # connection refused, unknown Space, bad token...
            raise ClientError(f"cannot connect to {src}: {e}") from e

    def _call(self, endpoint: str, *args: Any) -> Any:
        from gradio_client import exceptions as gx

        try:
            return self._client.predict(*args, api_name=endpoint)
        except gx.AppError as e:
            raise ClientError(str(e)) from None
        except Exception as e:
            raise ClientError(f"{endpoint} failed: {e}") from e

    def restore_image(self, path: str | os.PathLike, **options: Any) -> ImageResult:
        """Restore one image file. Options: preset, upscale, model, denoise, colorize, color_model,
        sharpen, output_format, face, face_fidelity, face_mask (see ``restoration.options.FIELDS``).
        Only the options given are sent: the rest keep the preset's values (or the library's defaults
        without a preset)."""
        from gradio_client import handle_file

        if not Path(path).is_file():
            raise ClientError(f"{path}: file not found")
        slider, out_file, metrics, faces = self._call(RESTORE_IMAGE, handle_file(str(path)), *_options(options))
        preview = None
        if isinstance(slider, (list, tuple)) and len(slider) == 2:
            before, after = (_path(v) for v in slider)
            preview = (before, after) if before and after else None
        out = _path(out_file)
        if out is None:
            raise ClientError(f"{RESTORE_IMAGE} returned no file")
        crops = _gallery(faces)
        return ImageResult(out, dict(metrics or {}), preview, list(zip(crops[::2], crops[1::2])))

    def restore_video(self, path: str | os.PathLike, **options: Any) -> VideoResult:
        """Restore one video file (audio kept). Options: those of ``restore_image`` plus ``codec``
        (h264, h265, vp9, ffv1, png), ``crf`` (0-51) and frame interpolation: ``interpolate`` (2, 3, 4...
        times the frames) or ``fps`` (a target rate), with ``interpolation_model`` (default rife-4.26)."""
        from gradio_client import handle_file

        if not Path(path).is_file():
            raise ClientError(f"{path}: file not found")
        _, out_file, metrics = self._call(
            RESTORE_VIDEO, handle_file(str(path)), *_options(options, VIDEO_PARAMS)
        )
        out = _path(out_file)
        if out is None:
            raise ClientError(f"{RESTORE_VIDEO} returned no file")
        return VideoResult(out, dict(metrics or {}))

    def preview_video(self, path: str | os.PathLike, at: float = 0.0, seconds: float = 2.0,
                      **options: Any) -> VideoPreview:
        """Restore ``seconds`` of the video from ``at`` (0 seconds: one frame) with the options of
        ``restore_video``, to see the result and how long the whole video would take before running it."""
        from gradio_client import handle_file

        if not Path(path).is_file():
            raise ClientError(f"{path}: file not found")
        pair, clip, said = self._call(PREVIEW_VIDEO, handle_file(str(path)), *_options(options, VIDEO_PARAMS),
                                      at, seconds)
        sides = [_path(v) for v in pair] if isinstance(pair, (list, tuple)) else []
        video = _path(clip)
        if len(sides) != 2 or None in sides or video is None:
            raise ClientError(f"{PREVIEW_VIDEO} returned no preview")
        return VideoPreview(sides[0], sides[1], video, str(said))

    def restore_batch(self, paths: list[str | os.PathLike], **options: Any) -> BatchResult:
        """Restore many image files and/or zip archives; one zip comes back with every result."""
        from gradio_client import handle_file

        missing = [str(p) for p in paths if not Path(p).is_file()]
        if missing:
            raise ClientError(f"file(s) not found: {', '.join(missing)}")
        gallery, archive, report = self._call(
            RESTORE_BATCH, [handle_file(str(p)) for p in paths], *_options(options)
        )
        return BatchResult(_path(archive), dict(report or {}), _gallery(gallery))

    def compare_upscalers(self, path: str | os.PathLike, left: str, right: str,
                          upscale: float | None = None) -> Comparison:
        """Two upscalers (catalogue ids or added models' names) on the same crop of the photo's centre,
        every other stage off: a cheap look before restoring the whole photo with one of them."""
        from gradio_client import handle_file

        if not Path(path).is_file():
            raise ClientError(f"{path}: file not found")
        pair, said = self._call(COMPARE, handle_file(str(path)), left, right, upscale)
        sides = [_path(v) for v in pair] if isinstance(pair, (list, tuple)) else []
        if len(sides) != 2 or None in sides:
            raise ClientError(f"{COMPARE} returned no pictures")
        return Comparison(sides[0], sides[1], str(said))

    def list_models(self) -> list[dict[str, Any]]:
        """The server's model catalogue (id, task, scale, license, source...), then its added models."""
        return list(self._call(LIST_MODELS))

    def add_model(self, path: str | os.PathLike) -> dict[str, Any]:
        """Add a model file to the server; returns what it is, with the ``name`` to use it by."""
        from gradio_client import handle_file

        if not Path(path).is_file():
            raise ClientError(f"{path}: file not found")
        return dict(self._call(ADD_MODEL, handle_file(str(path))))

    def remove_model(self, name: str) -> list[dict[str, Any]]:
        """Remove an added model by its ``name``; returns the models still added."""
        return list(self._call(REMOVE_MODEL, name))

    def close(self) -> None:
        close = getattr(self._client, "close", None)
        if close:
            close()

    def __enter__(self) -> RestorationClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
