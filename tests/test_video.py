"""Video restoration: clips made here with PyAV, restored with the tiny models, checked with PyAV."""

from __future__ import annotations

import threading
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from restoration import OptionError, RestoreOptions, restore_video
from restoration.video import (
    Cancelled,
    TemporalStabilizer,
    VideoOptions,
    VideoReadError,
    chroma_flicker,
    probe,
)

FAST = RestoreOptions(upscale=2, model="realesr-general-x4v3", colorize="off")


def _picture(i: int, w: int, h: int, rng: np.random.Generator | None = None, gray: bool = False) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.stack([(xx * 255 // max(1, w - 1)), (yy * 255 // max(1, h - 1)),
                    np.full_like(xx, 128)], -1).astype(np.float32)
    x0 = (i * 3) % max(1, w - 8)
    img[h // 4: h // 4 + 8, x0: x0 + 8] = (250, 40, 40)
    if gray:
        img = np.repeat(img.mean(-1, keepdims=True), 3, -1)
    if rng is not None:
        img += rng.normal(0, 6, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def make_clip(path: Path, *, w: int = 48, h: int = 32, n: int = 24, fps: int = 12, audio: bool = True,
              vfr: bool = False, rotation: int = 0, codec: str = "libx264", pix_fmt: str = "yuv420p",
              static: bool = False, gray: bool = False, seed: int = 0, gop: int | None = None) -> Path:
    """A short clip: a moving square on a gradient (or a static noisy picture), optional AAC tone;
    ``gop``: a keyframe every that many frames."""
    rng = np.random.default_rng(seed) if static else None
    with av.open(str(path), "w") as c:
        v = c.add_stream(codec, rate=fps)
        v.width, v.height, v.pix_fmt = w, h, pix_fmt
        if gop:
            v.codec_context.gop_size = gop
        if vfr:
            v.time_base = Fraction(1, 1000)
            v.codec_context.time_base = Fraction(1, 1000)
        if rotation:
            v.set_display_rotation(rotation)
        a = None
        if audio:
            a = c.add_stream("aac", rate=16000)
            a.layout = "mono"
        t = 0
        for i in range(n):
            frame = av.VideoFrame.from_ndarray(_picture(0 if static else i, w, h, rng, gray), format="rgb24")
            if vfr:
                frame.pts, frame.time_base = t, Fraction(1, 1000)
                t += 50 if i % 2 else 120  # alternating 50 ms / 120 ms gaps
            else:
                frame.pts = i
            for p in v.encode(frame):
                c.mux(p)
        for p in v.encode(None):
            c.mux(p)
        if a is not None:
            seconds = (t / 1000) if vfr else n / fps
            samples = int(16000 * seconds)
            tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(samples) / 16000)).astype(np.float32)
            for start in range(0, samples, 1024):
                chunk = tone[start:start + 1024][None]
                af = av.AudioFrame.from_ndarray(chunk, format="flt", layout="mono")
                af.sample_rate, af.pts = 16000, start
                for p in a.encode(af):
                    c.mux(p)
            for p in a.encode(None):
                c.mux(p)
    return path


def frames_of(path: Path) -> tuple[list[np.ndarray], list[float]]:
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        out, times = [], []
        for f in c.decode(v):
            out.append(f.to_ndarray(format="rgb24"))
            times.append(float(f.pts * f.time_base))
    return out, times


def audio_payload(path: Path) -> list[bytes]:
    with av.open(str(path)) as c:
        return [bytes(p) for p in c.demux(c.streams.audio[0]) if p.size]


def test_frames_timing_and_audio_are_kept(tmp_path):
    src = make_clip(tmp_path / "in.mp4")
    out = tmp_path / "out.mp4"
    seen = []
    res = restore_video(src, out, FAST, progress=lambda f, m: seen.append((f, m)))
    info_in, info_out = probe(src), probe(out)
    assert (info_out.width, info_out.height) == (96, 64)
    assert info_out.codec == "h264"
    frames_in, times_in = frames_of(src)
    frames_out, times_out = frames_of(out)
    assert len(frames_out) == len(frames_in) == 24 == res.metrics["frames"]
    assert info_out.fps == pytest.approx(info_in.fps)
    assert times_out == pytest.approx(times_in, abs=1e-3)
    assert info_out.duration == pytest.approx(info_in.duration, abs=0.1)
    # the audio is the very same packets, not re-encoded
    assert audio_payload(out) == audio_payload(src) and res.metrics["audio_copied"] == 1
    # the picture is the input, upscaled (moving square in the same place)
    ref = frames_in[10].repeat(2, 0).repeat(2, 1).astype(np.float32)
    assert np.abs(frames_out[10].astype(np.float32) - ref).mean() < 40
    # progress: frames done, fps, time left; ends at 1
    assert any("frame" in m and "fps" in m and "left" in m for _, m in seen)
    assert seen[-1][0] == 1.0
    m = res.metrics
    for key in ("sharpness_mean", "sharpness_worst", "psnr_mean", "ssim_mean", "fps_processing"):
        assert np.isfinite(m[key]), key
    assert not list(tmp_path.glob(".*"))  # work folder and temporary file are gone


def test_odd_sizes_lossless_codecs_and_no_audio(tmp_path):
    src = make_clip(tmp_path / "odd.mkv", w=33, h=25, n=6, audio=False, codec="ffv1", pix_fmt="yuv444p")
    one = RestoreOptions(upscale=1, model="realesr-general-x4v3", colorize="off")
    mp4 = restore_video(src, tmp_path / "odd.mp4", one)
    assert (probe(mp4.path).width, probe(mp4.path).height) == (34, 26)  # padded to even for 4:2:0
    frames, _ = frames_of(mp4.path)
    assert len(frames) == 6
    lossless = restore_video(src, tmp_path / "odd_ffv1.mkv", one, VideoOptions(codec="ffv1"))
    info = probe(lossless.path)
    assert (info.width, info.height, info.codec) == (33, 25, "ffv1")
    png = restore_video(src, tmp_path / "odd_png.mov", one, VideoOptions(codec="png"))
    assert probe(png.path).codec == "png"
    assert lossless.metrics["audio_copied"] == 0


def test_variable_frame_rate_and_rotation_are_kept(tmp_path):
    src = make_clip(tmp_path / "vfr.mp4", n=10, vfr=True, rotation=90)
    assert probe(src).rotation == 90
    res = restore_video(src, tmp_path / "vfr_out.mp4", FAST)
    _, t_in = frames_of(src)
    _, t_out = frames_of(res.path)
    assert len(set(np.round(np.diff(t_in), 3))) == 2  # really variable
    assert t_out == pytest.approx(t_in, abs=2e-3)
    assert probe(res.path).rotation == 90
    assert audio_payload(res.path) == audio_payload(src)


def _audio_seconds(path: Path) -> float:
    with av.open(str(path)) as c:
        a = c.streams.audio[0]
        return sum(f.samples for f in c.decode(a)) / a.sample_rate


def test_h265_and_vp9_with_audio_reencoded_where_the_container_needs_it(tmp_path):
    src = make_clip(tmp_path / "in.mp4", n=12)
    hevc = restore_video(src, tmp_path / "a.mkv", FAST, VideoOptions(codec="h265"))
    assert probe(hevc.path).codec == "hevc" and hevc.metrics["audio_copied"] == 1
    webm = restore_video(src, tmp_path / "b.webm", FAST, VideoOptions(codec="vp9"))
    info = probe(webm.path)
    assert info.codec == "vp9" and info.audio == ["opus"]  # WebM cannot hold AAC: re-encoded
    assert webm.metrics["audio_reencoded"] == 1
    assert _audio_seconds(webm.path) == pytest.approx(_audio_seconds(src), abs=0.03)


def test_interrupted_run_resumes_from_the_last_segment(tmp_path):
    src = make_clip(tmp_path / "long.mp4", n=36)
    out = tmp_path / "long_out.mp4"
    cancel = threading.Event()
    video = VideoOptions(segment_seconds=1.0, batch=2)  # 12 frames per segment

    def stop_late(fraction: float, message: str) -> None:
        if fraction > 0.7:
            cancel.set()

    with pytest.raises(Cancelled):
        restore_video(src, out, FAST, video, progress=stop_late, cancel=cancel)
    assert not out.exists()  # nothing under the final name
    parts = sorted(p.name for p in (tmp_path / ".long_out.mp4.parts").glob("seg_*"))
    assert parts and all(".tmp" not in p for p in parts)

    res = restore_video(src, out, FAST, video)
    assert res.resumed_frames == 12 * len(parts) > 0
    assert res.metrics["frames_processed"] == 36 - res.resumed_frames
    frames, times = frames_of(out)
    _, times_in = frames_of(src)
    assert len(frames) == 36 and times == pytest.approx(times_in, abs=1e-3)
    assert audio_payload(out) == audio_payload(src)

    # other options: the old parts do not match and are not reused
    res2 = restore_video(src, out, RestoreOptions(upscale=1, model="realesr-general-x4v3", colorize="off"),
                         video)
    assert res2.resumed_frames == 0


def _flickering_colorizer(folder: Path) -> Path:
    """A tiny DDColor whose chroma follows its input's noise, like a real one on grainy footage."""
    import torch

    from .conftest import _save, make_ddcolor

    m = make_ddcolor(seed=3)
    with torch.no_grad():
        for name, p in m.named_parameters():
            if name.startswith("decoder.last_shuf") and name.endswith("weight_g"):
                p.copy_(torch.randn_like(p).abs() * 1e-9)
    folder.mkdir()
    _save(m, folder / "test-ddcolor-64.safetensors")
    return folder


def _small_colorizer_spec() -> str:
    """DDColor-T's spec, run at 64 px instead of 512 so the test takes seconds on a CPU."""
    from dataclasses import replace

    from restoration.catalog import get_spec, list_models, register

    if "test-ddcolor-64" not in {m.id for m in list_models()}:
        register(replace(get_spec("ddcolor-tiny"), id="test-ddcolor-64", input_size=64))
    return "test-ddcolor-64"


def test_stabilisation_reduces_colour_flicker(tmp_path, monkeypatch):
    monkeypatch.setenv("RESTORATION_MODELS_DIR", str(_flickering_colorizer(tmp_path / "models")))
    src = make_clip(tmp_path / "static.mkv", w=64, h=48, n=12, audio=False, static=True, gray=True,
                    codec="ffv1", pix_fmt="yuv444p")
    opts = RestoreOptions(upscale=0, colorize="on", color_model=_small_colorizer_spec())
    raw = restore_video(src, tmp_path / "raw.mkv", opts, VideoOptions(stabilize=False, codec="ffv1"))
    calm = restore_video(src, tmp_path / "calm.mkv", opts, VideoOptions(stabilize=True, codec="ffv1"))
    f_raw = chroma_flicker(frames_of(raw.path)[0])
    f_calm = chroma_flicker(frames_of(calm.path)[0])
    assert calm.metrics["stabilized"] and not raw.metrics["stabilized"]
    assert f_raw > 0.5, f_raw  # the colorizer alone does flicker on the frames' noise
    assert f_calm < 0.5 * f_raw, (f_raw, f_calm)
    # the colours themselves stay: mean chroma of the last frame within a unit of the unstabilised one
    a, b = frames_of(raw.path)[0][-1], frames_of(calm.path)[0][-1]
    assert abs(a.astype(float).mean() - b.astype(float).mean()) < 2


def test_a_scene_cut_is_found_on_the_input_and_the_stabilizer_starts_again_there():
    import torch

    from restoration.video.cuts import CutDetector
    from restoration.video.frames import Frame, through

    rng = np.random.default_rng(0)
    colour = lambda rgb: np.clip(rng.normal(0, 6, (16, 16, 3)) + rgb, 0, 255).astype(np.uint8)  # noqa: E731
    pictures = [colour([200, 20, 20]) if i < 3 else colour([20, 20, 220]) for i in range(6)]  # red, then blue
    frames = list(through(CutDetector(), [Frame(i, i, p) for i, p in enumerate(pictures)]))
    assert [f.cut for f in frames] == [False, False, False, True, False, False]
    st = TemporalStabilizer(chroma=0.9)
    as_tensor = lambda a: torch.from_numpy(a).permute(2, 0, 1).float() / 255  # noqa: E731
    for f in frames:
        f.restored = as_tensor(f.pixels)
        st.push(f)
    assert torch.allclose(frames[3].restored, as_tensor(pictures[3]), atol=1e-4)  # the new scene as it is
    assert not torch.allclose(frames[4].restored, as_tensor(pictures[4]), atol=1e-3)  # then smoothed again


def test_bad_inputs_and_options(tmp_path):
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(VideoReadError, match="empty"):
        restore_video(empty, tmp_path / "o.mp4", FAST)
    text = tmp_path / "notes.mp4"
    text.write_text("not a video at all")
    with pytest.raises(VideoReadError, match="notes.mp4"):
        restore_video(text, tmp_path / "o.mp4", FAST)
    with pytest.raises(VideoReadError, match="no such file"):
        restore_video(tmp_path / "missing.mp4", tmp_path / "o.mp4", FAST)
    from .hostile import _audio_only

    audio_only = _audio_only(tmp_path)
    with pytest.raises(VideoReadError, match="no video stream"):
        restore_video(audio_only, tmp_path / "o.mp4", FAST)
    src = make_clip(tmp_path / "ok.mp4", n=2, audio=False)
    with pytest.raises(OptionError, match="ffv1"):
        restore_video(src, tmp_path / "o.mp4", FAST, VideoOptions(codec="ffv1"))
    with pytest.raises(OptionError, match="overwrite the input"):
        restore_video(src, src, FAST)
    for bad in (dict(codec="av2"), dict(crf=60), dict(crf=1.5), dict(batch=0),
                dict(segment_seconds=float("nan"))):
        with pytest.raises(OptionError):
            VideoOptions(**bad)


def test_truncated_file_is_an_error_or_a_warned_short_video(tmp_path):
    src = make_clip(tmp_path / "whole.mp4", n=48, audio=False)
    data = src.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) * 2 // 3])  # MP4 index at the end: unreadable once cut
    with pytest.raises(VideoReadError, match="cut.mp4"):
        restore_video(cut, tmp_path / "cut_out.mp4", FAST)
    assert not (tmp_path / "cut_out.mp4").exists()

    whole = make_clip(tmp_path / "whole.mkv", n=48, audio=False, codec="ffv1", pix_fmt="yuv444p")
    data = whole.read_bytes()
    short = tmp_path / "short.mkv"
    short.write_bytes(data[: len(data) // 2])  # Matroska: the first half still plays
    res = restore_video(short, tmp_path / "short_out.mp4", FAST)
    assert probe(short).duration == pytest.approx(4.0)  # the header still announces all 48 frames
    assert 0 < res.metrics["frames"] < 48 and res.metrics["frames_expected"] == 48
    assert "truncated" in res.metrics["warnings"][0]


def test_pixel_limit(tmp_path, monkeypatch):
    src = make_clip(tmp_path / "in.mp4", n=2, audio=False)
    monkeypatch.setenv("RESTORATION_MAX_PIXELS", "5000")
    with pytest.raises(VideoReadError, match="RESTORATION_MAX_PIXELS"):
        restore_video(src, tmp_path / "o.mp4", FAST)


def test_command_line(tmp_path, capsys):
    import json

    from restoration.cli import main

    src = make_clip(tmp_path / "clip.mp4", n=6)
    out = tmp_path / "clip_x2.mp4"
    args = ["video", str(src), "-o", str(out), "--upscale", "2", "--model", "realesr-general-x4v3",
            "--colorize", "off", "--json"]
    assert main(args) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["frames"] == 6 and report["size_out"] == [96, 64] and report["audio_copied"] == 1
    assert probe(out).width == 96
    # default name, codec that picks its container
    assert main(["video", str(src), "--codec", "ffv1", "--upscale", "0", "--colorize", "off"]) == 0
    assert (tmp_path / "clip_restored.mkv").exists()
    capsys.readouterr()
    assert main(["video", str(src), "-o", str(tmp_path / "x.mp4"), "--codec", "ffv1"]) == 2
    assert "ffv1" in capsys.readouterr().err
    assert main(["video", str(tmp_path / "none.mp4"), "-o", str(tmp_path / "y.mp4")]) == 1
    assert "none.mp4" in capsys.readouterr().err


def test_subtitles_are_carried_over(tmp_path):
    import shutil
    import subprocess

    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        pytest.skip("needs the ffmpeg binary to make a clip with subtitles")
    plain = make_clip(tmp_path / "plain.mp4", n=12)
    srt = tmp_path / "subs.srt"
    srt.write_text("1\n00:00:00,000 --> 00:00:00,800\nHello there\n\n")
    src = tmp_path / "subbed.mp4"
    subprocess.run([ffmpeg, "-v", "error", "-i", str(plain), "-i", str(srt), "-map", "0", "-map", "1",
                    "-c", "copy", "-c:s", "mov_text", str(src)], check=True, timeout=60)
    assert probe(src).subtitles == ["mov_text"]
    res = restore_video(src, tmp_path / "out.mp4", FAST)
    assert res.metrics["subtitles_copied"] == 1
    assert probe(res.path).subtitles == ["mov_text"]
    with av.open(str(res.path)) as c:
        text = b"".join(bytes(p) for p in c.demux(c.streams.subtitles[0]) if p.size)
    assert b"Hello there" in text


def test_golden_video_and_batch_on_the_local_path(tmp_path):
    """The local path gives what it gave before the video code became frames and passes (tests/golden.py)."""
    from restoration import restore_folder

    from . import golden

    out = tmp_path / "out.mkv"
    restore_video(golden.make_video(tmp_path / "in.mkv"), out, golden.OPTIONS, golden.VIDEO)
    restore_folder(golden.make_pictures(tmp_path / "pics"), tmp_path / "done", golden.PICTURES)
    golden.check(golden.video_frames(out), golden.batch_pixels(tmp_path / "done"))
