"""Video restoration: stream frames through the image stages, keep timing, rotation, audio, subtitles.

Decoding, the stages and encoding run in three threads joined by small bounded queues, so memory stays
bounded whatever the length. Frames go through ``restore_tensor`` in batches. The encoded video is
written in segments of a few seconds into a work folder beside the output (``.<name>.parts``); a
segment counts only once it has been closed and renamed, so a run that dies (error, kill, out of
memory) resumes from the last whole segment when it is run again with the same input and options.
At the end the segments are joined, the source's audio and subtitle streams are copied in (audio is
re-encoded only where the output container cannot hold its codec), and the file is renamed to its
final name: there is never a truncated file under that name.

Every frame keeps its own timestamp, so constant and variable frame rates, frame count and duration
are those of the source. Rotation metadata is copied, not applied.
"""

from __future__ import annotations

import heapq
import json
import logging
import math
import os
import queue
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import torch

from . import metrics
from ._version import __version__
from .color import lab_to_rgb, rgb_to_lab
from .errors import Cancelled, OptionError, RestorationError, VideoReadError, VideoWriteError
from .media import max_pixels
from .models import resolve_device
from .options import CODECS, RestoreOptions, VideoOptions
from .pipeline import restore_tensor

log = logging.getLogger(__name__)

ProgressFn = Callable[[float, str], None]

EVEN_ONLY = ("h264", "h265")  # codecs whose 4:2:0 output needs an even width and height
VIDEO_EXTENSIONS = (".mp4", ".mkv", ".mov", ".webm", ".avi", ".m4v", ".mpg", ".mpeg", ".ts", ".wmv",
                    ".flv", ".gif")


@dataclass
class VideoInfo:
    path: str
    width: int
    height: int
    frames: int  # from the container; 0 when it does not say
    fps: float  # average
    duration: float  # seconds
    codec: str
    rotation: int  # degrees, counter-clockwise, from the display matrix
    variable_rate: bool
    audio: list[str] = field(default_factory=list)
    subtitles: list[str] = field(default_factory=list)
    time_base: Fraction = Fraction(1, 25)  # of the video stream's timestamps
    rate: Fraction = Fraction(25)  # average frame rate, exact


@dataclass
class VideoResult:
    path: Path
    info: VideoInfo
    metrics: dict[str, Any]
    resumed_frames: int = 0


def _open(path: Path):
    import av

    if not path.is_file():
        raise VideoReadError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise VideoReadError(f"{path.name}: the file is empty (0 bytes)")
    try:
        return av.open(str(path), metadata_errors="ignore")
    except Exception as e:  # noqa: BLE001 - PyAV raises several kinds for unreadable input
        raise VideoReadError(f"{path.name}: not a readable video ({_why(e)}); check the file or re-export it") \
            from e


def _why(e: BaseException) -> str:
    """FFmpeg's reason without the file's path (which would show server folders to app users)."""
    return getattr(e, "strerror", None) or str(e).split(": '/")[0]


def probe(path: str | os.PathLike) -> VideoInfo:
    """What the container says about ``path`` (and its first frame's rotation)."""
    p = Path(path)
    with _open(p) as c:
        if not c.streams.video:
            raise VideoReadError(f"{p.name}: has no video stream (audio only?); give a video file")
        v = c.streams.video[0]
        ctx = v.codec_context
        if not ctx.width or not ctx.height:
            raise VideoReadError(
                f"{p.name}: the video stream ({ctx.name}) has no picture size: the file is damaged, or "
                "FFmpeg cannot decode this kind (animated WebP is one); convert it to MP4 first"
            )
        rate = v.average_rate or v.guessed_rate or v.base_rate
        fps = float(rate) if rate else 0.0
        duration = 0.0
        if v.duration is not None and v.time_base:
            duration = float(v.duration * v.time_base)
        elif c.duration:
            duration = c.duration / 1_000_000
        frames = int(v.frames or 0)
        base = float(v.base_rate) if v.base_rate else fps
        variable = bool(fps and base and abs(base - fps) > 0.01 * fps)
        rotation, first = 0, None
        try:
            for first in c.decode(v):
                rotation = int(round(getattr(first, "rotation", 0) or 0))
                break
        except Exception as e:  # noqa: BLE001
            raise VideoReadError(f"{p.name}: the first frame cannot be decoded ({_why(e)})") from e
        if first is None:
            raise VideoReadError(f"{p.name}: the video stream has no frames; give a video with pictures")
        return VideoInfo(
            path=str(p), width=ctx.width, height=ctx.height, frames=frames, fps=fps, duration=duration,
            codec=ctx.name, rotation=rotation, variable_rate=variable,
            audio=[s.codec_context.name for s in c.streams.audio],
            subtitles=[s.codec_context.name for s in c.streams.subtitles],
            time_base=v.time_base or Fraction(1, 25), rate=rate or Fraction(25),
        )


# --- temporal stabilisation --------------------------------------------------------------------
class TemporalStabilizer:
    """Smooths what should not change between neighbouring frames, per pixel and motion-gated.

    Works in Lab. Where the lightness of a pixel barely changes from the previous output frame (a
    static area), its chroma (``chroma`` > 0) and lightness (``luma`` > 0) are pulled toward the
    previous output; where it changes (motion), the new frame wins. A scene cut (a large mean change
    in lightness) resets the history.
    """

    def __init__(self, chroma: float = 0.8, luma: float = 0.0, low: float = 2.0, high: float = 8.0,
                 cut: float = 12.0) -> None:
        self.chroma, self.luma, self.low, self.high, self.cut = chroma, luma, low, high, cut
        self.prev: torch.Tensor | None = None  # (1, 3, H, W) Lab
        self.cuts = 0

    def __call__(self, rgb: torch.Tensor) -> torch.Tensor:
        out = []
        for frame in rgb:
            lab = rgb_to_lab(frame[None].float())
            if self.prev is None or self.prev.shape != lab.shape:
                self.prev = lab
                out.append(frame[None].float())
                continue
            diff = (lab[:, :1] - self.prev[:, :1]).abs()
            if float(diff.mean()) > self.cut:
                self.cuts += 1
                self.prev = lab
                out.append(frame[None].float())
                continue
            diff = torch.nn.functional.avg_pool2d(diff, 5, stride=1, padding=2, count_include_pad=False)
            motion = ((diff - self.low) / (self.high - self.low)).clamp_(0, 1)
            new = lab.clone()
            if self.chroma > 0:
                keep = (1 - motion) * self.chroma
                new[:, 1:] = lab[:, 1:] + (self.prev[:, 1:] - lab[:, 1:]) * keep
            if self.luma > 0:
                keep = (1 - motion) * self.luma
                new[:, :1] = lab[:, :1] + (self.prev[:, :1] - lab[:, :1]) * keep
            self.prev = new
            out.append(lab_to_rgb(new))
        return torch.cat(out).to(rgb.dtype)


def chroma_flicker(frames: list[np.ndarray], block: int = 4) -> float:
    """Mean absolute frame-to-frame change of Lab a/b, in Lab units, averaged over frame pairs.

    ``frames``: RGB uint8 or float arrays. The a/b planes are averaged over ``block``-pixel squares
    first, so the 8-bit rounding of each frame (about 0.4 units per pixel) does not hide the flicker
    a viewer sees.
    """
    if len(frames) < 2:
        return 0.0
    labs = []
    for f in frames:
        t = torch.from_numpy(np.ascontiguousarray(f)).float()
        if f.dtype == np.uint8:
            t = t / 255
        ab = rgb_to_lab(t.permute(2, 0, 1)[None])[:, 1:]
        if block > 1 and min(ab.shape[-2:]) >= block:
            ab = torch.nn.functional.avg_pool2d(ab, block)
        labs.append(ab)
    return float(np.mean([(b - a).abs().mean().item() for a, b in zip(labs, labs[1:])]))


# --- the job -----------------------------------------------------------------------------------
def _fingerprint(src: Path, dst: Path, options: RestoreOptions, video: VideoOptions) -> dict[str, Any]:
    st = src.stat()
    return {"source": str(src.resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns,
            "output": dst.name, "options": options.to_dict(), "video": asdict(video),
            "version": __version__}


def _work_dir(dst: Path) -> Path:
    return dst.parent / f".{dst.name}.parts"


def _prepare_work_dir(work: Path, job: dict[str, Any]) -> int:
    """Keep a matching earlier run's finished segments; returns how many there are (contiguous)."""
    manifest = work / "job.json"
    if work.exists():
        try:
            same = json.loads(manifest.read_text()) == job
        except (OSError, ValueError):
            same = False
        if not same:
            shutil.rmtree(work)
    work.mkdir(parents=True, exist_ok=True)
    manifest.write_text(json.dumps(job, sort_keys=True))
    for stale in work.glob("*.tmp*"):
        stale.unlink()
    done = 0
    while (work / _segment_name(done, job["output"])).exists():
        done += 1
    return done


def _segment_name(i: int, output: str) -> str:
    return f"seg_{i:05d}{Path(output).suffix.lower()}"


def _even(n: int) -> int:
    return n + (n % 2)


class _Encoder:
    """Writes restored frames into numbered segment files, each closed and renamed when full."""

    def __init__(self, work: Path, dst: Path, video: VideoOptions, time_base: Fraction, rate: Fraction,
                 segment_frames: int, first_segment: int) -> None:
        self.work, self.dst, self.video = work, dst, video
        self.time_base, self.rate = time_base, rate
        self.segment_frames = segment_frames
        self.segment = first_segment
        self.count = 0  # frames in the open segment
        self.container = None
        self.stream = None
        self.tmp: Path | None = None
        self.size: tuple[int, int] | None = None

    def _open_segment(self, width: int, height: int) -> None:
        import av

        encoder, pix_fmt, _ = CODECS[self.video.codec]
        tmp = self.tmp = self.work / f"seg_{self.segment:05d}.tmp{self.dst.suffix.lower()}"
        self.container = av.open(str(tmp), "w")
        s = self.container.add_stream(encoder, rate=self.rate)
        s.width, s.height, s.pix_fmt = width, height, pix_fmt
        s.time_base = self.time_base
        s.codec_context.time_base = self.time_base
        opts: dict[str, str] = {}
        if self.video.codec in ("h264", "h265"):
            # no B-frames: decode order = display order, so segments join with monotonic timestamps
            opts = {"crf": str(self.video.crf), "preset": self.video.speed}
            opts["x264-params" if self.video.codec == "h264" else "x265-params"] = (
                "bframes=0" if self.video.codec == "h264" else "bframes=0:log-level=error")
        elif self.video.codec == "vp9":
            opts = {"crf": str(self.video.crf), "b": "0", "row-mt": "1", "lag-in-frames": "0"}
        elif self.video.codec == "ffv1":
            opts = {"level": "3", "slicecrc": "1"}
        s.options = opts
        if pix_fmt.startswith("yuv"):
            s.codec_context.color_range = 1  # limited ("tv") range, what players expect
        self.stream, self.tmp = s, tmp

    def write(self, rgb: np.ndarray, pts: int) -> None:
        import av

        h, w = rgb.shape[:2]
        if self.video.codec in EVEN_ONLY and (h % 2 or w % 2):
            # H.264/H.265 4:2:0 cannot code (or crop to) odd sizes: repeat the last row/column
            # rather than cut or resample (VP9 and the lossless codecs keep odd sizes exactly)
            rgb = np.pad(rgb, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")
            h, w = rgb.shape[:2]
        if self.container is None:
            self._open_segment(w, h)
            self.size = (w, h)
        frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
        pix_fmt = CODECS[self.video.codec][1]
        if pix_fmt != "rgb24":
            space = "ITU709" if h >= 720 else "ITU601"
            frame = frame.reformat(format=pix_fmt, dst_colorspace=space, dst_color_range="MPEG")
        frame.pts = pts
        frame.time_base = self.time_base
        for packet in self.stream.encode(frame):
            self.container.mux(packet)
        self.count += 1
        if self.count >= self.segment_frames:
            self.close_segment()

    def close_segment(self) -> None:
        if self.container is None:
            return
        for packet in self.stream.encode(None):
            self.container.mux(packet)
        self.container.close()
        self.tmp.rename(self.work / _segment_name(self.segment, self.dst.name))
        self.container = self.stream = self.tmp = None
        self.segment += 1
        self.count = 0

    def abort(self) -> None:
        if self.container is not None:
            try:
                self.container.close()
            except Exception:  # noqa: BLE001 - best effort on the way out
                pass
            self.container = None
        if self.tmp is not None:
            self.tmp.unlink(missing_ok=True)


MAX_BAD_PACKETS = 100  # damaged packets skipped before a file counts as unreadable


def _decode(src: Path, skip: int, out: queue.Queue, stop: threading.Event, stats: dict[str, int]) -> None:
    """Decoder thread: (index, pts, rgb uint8) items, then None; an exception is passed on.

    A packet the decoder rejects (a damaged stretch of the file) is skipped and counted in
    ``stats["bad_packets"]``, as players do; past ``MAX_BAD_PACKETS`` the file counts as unreadable.
    """
    import av

    try:
        with _open(src) as c:
            v = c.streams.video[0]
            v.thread_type = "AUTO"
            index = 0
            last_pts = None
            for packet in c.demux(v):
                try:
                    frames = v.decode(packet)
                except av.InvalidDataError:
                    stats["bad_packets"] = stats.get("bad_packets", 0) + 1
                    if stats["bad_packets"] > MAX_BAD_PACKETS:
                        raise
                    continue
                for frame in frames:
                    if stop.is_set():
                        return
                    pts = frame.pts if frame.pts is not None else (last_pts + 1 if last_pts is not None else 0)
                    if last_pts is not None and pts <= last_pts:
                        pts = last_pts + 1  # a damaged or odd stream: keep timestamps increasing
                    last_pts = pts
                    if index >= skip:
                        _put(out, (index, pts, frame.to_ndarray(format="rgb24")), stop)
                    index += 1
        _put(out, None, stop)
    except BaseException as e:  # noqa: BLE001 - handed to the main thread
        _put(out, e, stop)


def _put(q: queue.Queue, item: Any, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            q.put(item, timeout=0.2)
            return
        except queue.Full:
            continue


def _encode_loop(enc: _Encoder, q: queue.Queue, stop: threading.Event, errors: list) -> None:
    """Encoder thread. ``None`` closes the last (short) segment; a stop discards the open one."""
    try:
        while True:
            try:
                item = q.get(timeout=0.2)
            except queue.Empty:
                item = False
            if stop.is_set():
                enc.abort()  # never let a partial segment count as finished
                return
            if item is False:
                continue
            if item is None:
                enc.close_segment()
                return
            rgb, pts = item
            enc.write(rgb, pts)
    except BaseException as e:  # noqa: BLE001
        errors.append(e)
        stop.set()
        enc.abort()


def _audio_codec_for(suffix: str) -> str:
    return {".webm": "libopus", ".mkv": "aac", ".mp4": "aac", ".mov": "aac"}.get(suffix, "aac")


def _assemble(src: Path, work: Path, dst: Path, segments: int, rotation: int) -> dict[str, int]:
    """Join the segments and copy the source's audio/subtitle streams; returns what was carried."""
    import av

    tmp = dst.parent / f".{dst.stem}.tmp{dst.suffix}"
    carried = {"audio_copied": 0, "audio_reencoded": 0, "subtitles_copied": 0}
    seg_paths = [work / _segment_name(i, dst.name) for i in range(segments)]
    with av.open(str(seg_paths[0])) as first, _open(src) as source, av.open(str(tmp), "w") as out:
        vout = out.add_stream_from_template(first.streams.video[0])
        if rotation:
            try:
                vout.set_display_rotation(rotation)
            except Exception as e:  # noqa: BLE001
                log.warning("could not keep the rotation metadata (%s)", e)
        others: dict[int, Any] = {}
        transcode: dict[int, tuple[Any, Any]] = {}
        supported = out.supported_codecs
        for s in [*source.streams.audio, *source.streams.subtitles]:
            name = s.codec_context.name
            try:
                if name in supported:
                    others[s.index] = out.add_stream_from_template(s)
                    carried["audio_copied" if s.type == "audio" else "subtitles_copied"] += 1
                elif s.type == "audio":
                    enc = out.add_stream(_audio_codec_for(dst.suffix.lower()),
                                         rate=s.codec_context.sample_rate or 48000)
                    enc.layout = s.codec_context.layout
                    transcode[s.index] = (enc, av.AudioResampler(format=enc.format, layout=enc.layout,
                                                                rate=enc.rate))
                    others[s.index] = enc
                    carried["audio_reencoded"] += 1
                else:
                    log.warning("%s: subtitle codec %s cannot go into %s; dropped", src.name, name,
                                dst.suffix)
            except Exception as e:  # noqa: BLE001
                log.warning("%s: stream %d (%s) not carried over: %s", src.name, s.index, name, e)
                others.pop(s.index, None)

        def video_packets() -> Iterator[tuple[float, int, Any]]:
            for path in seg_paths:
                with av.open(str(path)) as seg:
                    for pkt in seg.demux(seg.streams.video[0]):
                        if pkt.size == 0 or pkt.dts is None:
                            continue
                        yield float(pkt.dts * pkt.time_base), 0, pkt

        def source_packets() -> Iterator[tuple[float, int, Any]]:
            wanted = [s for s in source.streams if s.index in others]
            if not wanted:
                return
            for pkt in source.demux(wanted):
                if pkt.size == 0 or pkt.dts is None:
                    continue
                yield float(pkt.dts * pkt.time_base), 1, pkt

        n = 0
        for _, tag, pkt in heapq.merge(video_packets(), source_packets(), key=lambda t: (t[0], t[1])):
            idx = pkt.stream.index
            if tag == 0:
                pkt.stream = vout
                out.mux(pkt)
                n += 1
            elif idx in transcode:
                enc, resampler = transcode[idx]
                for frame in pkt.decode():
                    for rf in resampler.resample(frame):
                        rf.pts = None
                        out.mux(enc.encode(rf))
            else:
                pkt.stream = others[idx]
                out.mux(pkt)
        for enc, resampler in transcode.values():
            for rf in resampler.resample(None):
                rf.pts = None
                out.mux(enc.encode(rf))
            out.mux(enc.encode(None))
    os.replace(tmp, dst)
    carried["video_packets"] = n
    return carried


def restore_video(
    src: str | os.PathLike,
    dst: str | os.PathLike,
    options: RestoreOptions | None = None,
    video: VideoOptions | None = None,
    *,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
    keep_parts: bool = False,
) -> VideoResult:
    """Restore the video ``src`` into ``dst`` (.mp4, .mkv, .mov or .webm) with the image stages.

    Resumes a matching earlier run from its finished segments. ``progress(fraction, message)`` gets
    frames done, fps and time left. Setting ``cancel`` stops at the next batch and raises
    ``Cancelled`` (finished segments stay for a resume unless the caller removes them with
    ``discard_parts``). Returns the output path, the source's ``VideoInfo`` and the metrics.
    """
    options = options or RestoreOptions()
    video = video or VideoOptions()
    src, dst = Path(src), Path(dst)
    suffix = dst.suffix.lower()
    allowed = CODECS[video.codec][2]
    if suffix not in allowed:
        raise OptionError(f"codec {video.codec} cannot be written to a {suffix or 'nameless'} file; use "
                          f"{' or '.join(allowed)}")
    if src.resolve() == dst.resolve():
        raise OptionError(f"{dst.name}: the output would overwrite the input; choose another name")
    info = probe(src)
    device = resolve_device(options.device)
    scale = options.upscale if options.does_superres else 1
    out_w, out_h = round(info.width * scale), round(info.height * scale)
    limit = max_pixels()
    if info.width * info.height > limit or out_w * out_h > limit:
        raise VideoReadError(f"{src.name}: {info.width}x{info.height} -> {out_w}x{out_h} is over the limit of "
                             f"{limit:,} pixels per frame; lower --upscale or raise RESTORATION_MAX_PIXELS")
    try:
        dst.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise VideoWriteError(f"{dst}: cannot create the output folder ({e})") from e

    fps = info.fps or 25.0
    segment_frames = max(1, round(fps * video.segment_seconds))
    work = _work_dir(dst)
    done_segments = _prepare_work_dir(work, _fingerprint(src, dst, options, video))
    skip = done_segments * segment_frames
    total = info.frames or max(1, round(info.duration * fps))

    import av

    monochrome: bool | None = None
    stabilizer = None
    if video.stabilize:
        colorizes = options.colorize != "off"
        luma = 0.5 if options.denoise > 0 else 0.0
        if colorizes or luma:
            stabilizer = TemporalStabilizer(chroma=0.8 if colorizes else 0.0, luma=luma)

    stop = threading.Event()
    frames_q: queue.Queue = queue.Queue(maxsize=max(4, 2 * video.batch))
    encode_q: queue.Queue = queue.Queue(maxsize=max(4, 2 * video.batch))
    enc = _Encoder(work, dst, video, info.time_base, info.rate, segment_frames, done_segments)
    enc_errors: list[BaseException] = []
    decode_stats: dict[str, int] = {}
    decoder = threading.Thread(target=_decode, args=(src, skip, frames_q, stop, decode_stats), daemon=True,
                               name="video-decode")
    encoder = threading.Thread(target=_encode_loop, args=(enc, encode_q, stop, enc_errors), daemon=True,
                               name="video-encode")
    decoder.start()
    encoder.start()

    sharp: list[float] = []
    quality: list[dict[str, float]] = []
    sample_every = max(1, round(fps))
    seconds: dict[str, float] = {}
    done = skip
    processed = 0
    t0 = time.perf_counter()
    finished = False
    try:
        while not finished:
            batch = []
            while len(batch) < video.batch:
                try:
                    item = frames_q.get(timeout=0.2)
                except queue.Empty:
                    if enc_errors:
                        raise VideoWriteError(f"{dst.name}: encoding failed ({enc_errors[0]})") \
                            from enc_errors[0]
                    if cancel is not None and cancel.is_set():
                        raise Cancelled(f"{src.name}: cancelled after {done} frames") from None
                    if not decoder.is_alive() and frames_q.empty():
                        raise VideoReadError(f"{src.name}: the decoder stopped without a reason") from None
                    continue
                if isinstance(item, BaseException):
                    if isinstance(item, RestorationError):
                        raise item
                    raise VideoReadError(f"{src.name}: decoding failed at frame {done + len(batch)} "
                                         f"({_why(item)}); the file is damaged from there on") from item
                if item is None:
                    finished = True
                    break
                batch.append(item)
            if cancel is not None and cancel.is_set():
                raise Cancelled(f"{src.name}: cancelled after {done} frames")
            if enc_errors:
                raise VideoWriteError(f"{dst.name}: encoding failed ({enc_errors[0]})") from enc_errors[0]
            if not batch:
                break
            # Frames travel to the device as 8-bit (a quarter of the bytes) and become float there.
            x = torch.from_numpy(np.stack([b[2] for b in batch])).to(device)
            x = x.permute(0, 3, 1, 2).float().div_(255)
            if monochrome is None:
                from .stages import is_monochrome

                monochrome = options.colorize == "auto" and is_monochrome(x[:1])
            out, _, report = restore_tensor(x, options, monochrome=monochrome)
            for k, v in report.seconds.items():
                seconds[k] = seconds.get(k, 0.0) + v
            if stabilizer is not None and ("colorize" in report.stages or "denoise" in report.stages):
                out = stabilizer(out)
            frames = (out.clamp(0, 1).mul(255).add_(0.5).to(torch.uint8).permute(0, 2, 3, 1)
                      .contiguous().cpu().numpy())
            for (index, pts, rgb_in), rgb in zip(batch, frames):
                if index % sample_every == 0:
                    f = rgb.astype(np.float32) / 255
                    sharp.append(metrics.sharpness(f))
                    ref = metrics.resize_to(rgb_in.astype(np.float32) / 255, (f.shape[1], f.shape[0]))
                    quality.append(metrics.compare(f, ref))
                _put(encode_q, (rgb, pts), stop)
            done += len(batch)
            processed += len(batch)
            if progress:
                elapsed = time.perf_counter() - t0
                rate_now = processed / elapsed if elapsed > 0 else 0.0
                left = max(0, total - done)
                eta = left / rate_now if rate_now > 0 else float("inf")
                eta_s = time.strftime("%H:%M:%S", time.gmtime(eta)) if math.isfinite(eta) else "?"
                progress(min(0.99, done / max(total, done)),
                         f"frame {done}/{max(total, done)} · {rate_now:.1f} fps · {eta_s} left")
        _put(encode_q, None, stop)
        encoder.join()
        if enc_errors:
            raise VideoWriteError(f"{dst.name}: encoding failed ({enc_errors[0]})") from enc_errors[0]
    except BaseException:
        stop.set()  # the encoder thread discards its open segment; finished ones stay for a resume
        encoder.join(timeout=30)
        raise
    finally:
        stop.set()
        decoder.join(timeout=30)

    segments = enc.segment
    if segments == 0 or done == 0:
        shutil.rmtree(work, ignore_errors=True)
        raise VideoReadError(f"{src.name}: the video has no frames that can be decoded")
    warnings = []
    if decode_stats.get("bad_packets"):
        warnings.append(f"{src.name}: {decode_stats['bad_packets']} damaged packet(s) could not be decoded and "
                        "were skipped; the pictures around them may show artefacts")
    if video.codec in EVEN_ONLY and (out_w % 2 or out_h % 2):
        warnings.append(f"{src.name}: {video.codec} cannot store the odd size {out_w}x{out_h}, so the last "
                        f"column/row is repeated ({out_w + out_w % 2}x{out_h + out_h % 2}); use vp9, ffv1 or "
                        "png to keep the exact size")
    expected = info.frames or round(info.duration * fps)
    if expected and done < 0.98 * expected - 1:
        warnings.append(f"{src.name}: only {done} of the {expected} frames the file announces could be "
                        "decoded; it is probably truncated or damaged, and the output is that much shorter")
    if progress:
        progress(0.995, "joining segments and copying audio")
    try:
        carried = _assemble(src, work, dst, segments, info.rotation)
    except av.FFmpegError as e:
        raise VideoWriteError(f"{dst.name}: could not write the final file ({e})") from e
    if not keep_parts:
        shutil.rmtree(work, ignore_errors=True)
    elapsed = time.perf_counter() - t0
    m: dict[str, Any] = {
        "frames": done,
        "frames_expected": expected,
        "warnings": warnings,
        "frames_processed": processed,
        "resumed_from_frame": skip,
        "fps_processing": processed / elapsed if elapsed > 0 else 0.0,
        "seconds_total": elapsed,
        "seconds": {k: round(v, 3) for k, v in seconds.items()},
        "size_in": [info.width, info.height],
        "size_out": [out_w, out_h],
        "sharpness_mean": float(np.mean(sharp)) if sharp else float("nan"),
        "sharpness_worst": float(np.min(sharp)) if sharp else float("nan"),
        "psnr_mean": float(np.mean([q["psnr"] for q in quality])) if quality else float("nan"),
        "ssim_mean": float(np.mean([q["ssim"] for q in quality])) if quality else float("nan"),
        "compared_with": "input frames resized (one frame per second sampled)",
        "stabilized": stabilizer is not None,
        "scene_cuts": stabilizer.cuts if stabilizer is not None else 0,
        **carried,
    }
    if progress:
        progress(1.0, f"done: {done} frames")
    return VideoResult(dst, info, m, skip)


def discard_parts(dst: str | os.PathLike) -> None:
    """Remove the finished segments an interrupted ``restore_video`` left for ``dst``."""
    shutil.rmtree(_work_dir(Path(dst)), ignore_errors=True)
