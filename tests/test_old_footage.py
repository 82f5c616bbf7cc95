"""Old footage in, modern video out: faithful colour and bit depth, the encoders, deinterlacing, the preview.

Clips are made here with PyAV (real photos panning; FFmpeg's interlacing filters for interlaced and
telecined ones; ProRes for a 10-bit scan)."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from restoration import RestoreOptions, restore_video
from restoration.errors import OptionError
from restoration.options import VideoOptions

NOTHING = RestoreOptions(upscale=0, colorize="off", denoise=0, sharpen=0)


def _photo_frames(w: int, h: int, n: int) -> list[np.ndarray]:
    import cv2
    from skimage import data

    big = cv2.resize(data.coffee(), (w + 4 * n + 8, h + 2 * n + 8), interpolation=cv2.INTER_CUBIC)
    return [np.ascontiguousarray(big[2 * i:2 * i + h, 4 * i:4 * i + w]) for i in range(n)]


def clip(path: Path, *, w: int = 320, h: int = 180, n: int = 10, rate: int = 25, codec: str = "libx264",
         pix_fmt: str = "yuv420p", options: dict | None = None, colour: dict | None = None) -> Path:
    """A clip of a real photo panning; ``colour``: the matrix/range/primaries/transfer to write it with."""
    with av.open(str(path), "w") as c:
        v = c.add_stream(codec, rate=rate)
        v.width, v.height, v.pix_fmt = w, h, pix_fmt
        v.options = options if options is not None else {"crf": "10"}
        tags = colour or {}
        for k, val in tags.items():
            setattr(v.codec_context, k, val)
        for i, rgb in enumerate(_photo_frames(w, h, n)):
            kw = {}
            if tags.get("colorspace") == 1:
                kw = {"dst_colorspace": "ITU709"}
            if tags.get("color_range") == 2:
                kw["dst_color_range"] = "JPEG"
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format=pix_fmt, **kw)
            for k, val in tags.items():
                setattr(frame, k, val)
            frame.pts = i
            for p in v.encode(frame):
                c.mux(p)
        for p in v.encode(None):
            c.mux(p)
    return path


def planes(path: Path, fmt: str = "yuv420p") -> list[np.ndarray]:
    with av.open(str(path)) as c:
        return [f.to_ndarray(format=fmt) for f in c.decode(video=0)]


def psnr(a: np.ndarray, b: np.ndarray, peak: float = 255.0) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 99.0 if mse == 0 else 10 * np.log10(peak**2 / mse)


def ffmpeg_rgb_round_trip(src: Path, dst: Path, crf: int) -> Path:
    """What FFmpeg's own libraries give through RGB and back at the same CRF (their default conversions)."""
    with av.open(str(src)) as i, av.open(str(dst), "w") as o:
        v = o.add_stream("libx264", rate=25)
        v.width, v.height, v.pix_fmt = i.streams.video[0].width, i.streams.video[0].height, "yuv420p"
        v.options = {"crf": str(crf)}
        for n, f in enumerate(i.decode(video=0)):
            g = av.VideoFrame.from_ndarray(f.to_ndarray(format="rgb24"), format="rgb24").reformat(format="yuv420p")
            g.pts, g.time_base = n, Fraction(1, 25)
            for p in v.encode(g):
                o.mux(p)
        for p in v.encode(None):
            o.mux(p)
    return dst


def _rgb(path: Path, deep: bool = False) -> list[np.ndarray]:
    """Each frame as RGB with the matrix and range its file states, by the same reader for every file
    (swscale's own full-range conversion is off by 0.75 of 255 here, so it cannot be the ruler)."""
    from restoration.video.colour import Colour

    with av.open(str(path)) as c:
        return [Colour.of(f).to_rgb(f, deep) for f in c.decode(video=0)]


def _shift(a: Path, b: Path) -> np.ndarray:
    return np.mean([(y.astype(float) - x.astype(float)).mean(axis=(0, 1)) for x, y in zip(_rgb(a), _rgb(b))], axis=0)


# --- faithful colour -------------------------------------------------------------------------------
def test_a_video_with_nothing_to_do_comes_back_as_its_own_frames(tmp_path):
    src = clip(tmp_path / "in.mp4")
    res = restore_video(src, tmp_path / "out.mp4", NOTHING, VideoOptions(crf=10, stabilize=False))
    theirs = ffmpeg_rgb_round_trip(src, tmp_path / "ffmpeg.mp4", 10)
    ours = np.mean([psnr(a, b) for a, b in zip(planes(src), planes(res.path))])
    ffmpeg = np.mean([psnr(a, b) for a, b in zip(planes(src), planes(theirs))])
    assert ours >= ffmpeg - 0.5, (ours, ffmpeg)
    assert np.abs(_shift(src, res.path)).max() <= 0.2
    assert res.metrics["encoder"] == "libx264" and res.metrics["pixel_format"] == "yuv420p"


def test_the_colour_description_is_read_and_written(tmp_path):
    """A BT.709, full-range source keeps its matrix, range, primaries and transfer, and its colours."""
    tags = {"colorspace": 1, "color_primaries": 1, "color_trc": 1, "color_range": 2}
    src = clip(tmp_path / "hd.mp4", pix_fmt="yuv420p", colour=tags)
    res = restore_video(src, tmp_path / "out.mkv", NOTHING, VideoOptions(codec="ffv1", stabilize=False))
    with av.open(str(res.path)) as c:
        f = next(c.decode(video=0))
        assert (f.colorspace, f.color_primaries, f.color_trc, f.color_range) == (1, 1, 1, 2)
    assert np.abs(_shift(src, res.path)).max() <= 0.2


def test_a_10_bit_scan_stays_10_bit_where_the_codec_can_carry_it(tmp_path):
    src = clip(tmp_path / "scan.mov", codec="prores_ks", pix_fmt="yuv422p10le", options={"profile": "3"}, n=4)
    deep = restore_video(src, tmp_path / "deep.mov", NOTHING, VideoOptions(codec="prores", stabilize=False))
    with av.open(str(deep.path)) as c:
        assert c.streams.video[0].codec_context.pix_fmt == "yuv422p10le"
    a, b = _rgb(src, deep=True), _rgb(deep.path, deep=True)
    assert len(np.unique(b[0][..., 1])) > 1024  # more levels than 8 bits hold
    assert np.mean([psnr(x, y, 65535.0) for x, y in zip(a, b)]) > 45
    eight = restore_video(src, tmp_path / "eight.mp4", NOTHING, VideoOptions(codec="h264", stabilize=False))
    assert eight.metrics["pixel_format"] == "yuv420p"  # h264 here is 8-bit


# --- encoders --------------------------------------------------------------------------------------
@pytest.mark.parametrize(("codec", "suffix", "pix_fmt"),
                         [("av1", ".mkv", "yuv420p"), ("prores", ".mov", "yuv422p10le")])
def test_av1_and_prores_encode_every_frame_across_segments(tmp_path, codec, suffix, pix_fmt):
    src = clip(tmp_path / "in.mp4", n=30, w=96, h=64)  # three segments of 12.5 frames
    res = restore_video(src, tmp_path / f"out{suffix}", NOTHING,
                        VideoOptions(codec=codec, segment_seconds=0.5, stabilize=False))
    frames = planes(res.path, "rgb24")
    assert len(frames) == 30 and res.metrics["pixel_format"] == pix_fmt
    assert np.mean([psnr(a, b) for a, b in zip(planes(src, "rgb24"), frames)]) > 30


def test_a_hardware_encoder_that_is_not_here_is_refused_before_any_work(tmp_path):
    src = clip(tmp_path / "in.mp4", n=3, w=64, h=48)
    with pytest.raises(OptionError, match=r"encoder=nvenc: the NVENC \(NVIDIA\) encoder h264_nvenc cannot be used"):
        restore_video(src, tmp_path / "out.mp4", NOTHING, VideoOptions(encoder="nvenc"))
    with pytest.raises(OptionError, match="ffv1 has no NVENC"):
        restore_video(src, tmp_path / "out.mkv", NOTHING, VideoOptions(codec="ffv1", encoder="nvenc"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mp4"]  # no output, no work folder


def test_the_command_line_names_the_encoder_and_refuses_nvenc_without_leaving_a_file(tmp_path, capsys):
    from restoration.cli import main

    src = clip(tmp_path / "in.mp4", n=3, w=64, h=48)
    assert main(["video", str(src), "-o", str(tmp_path / "out.mp4"), "--upscale", "0", "--no-stabilize",
                 "--device", "cpu", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["encoder"] == "libx264"
    assert main(["video", str(src), "-o", str(tmp_path / "nv.mp4"), "--upscale", "0", "--encoder", "nvenc"]) == 2
    assert "NVENC" in capsys.readouterr().err and not (tmp_path / "nv.mp4").exists()
    assert not any(p.name.startswith(".nv.mp4") for p in tmp_path.iterdir())


# --- interlaced and telecined ----------------------------------------------------------------------
def _encode(path: Path, frames: list[np.ndarray], rate, flagged: bool = True) -> Path:
    with av.open(str(path), "w") as c:
        v = c.add_stream("libx264", rate=rate)
        v.width, v.height, v.pix_fmt = frames[0].shape[1], frames[0].shape[0], "yuv420p"
        v.options = {"crf": "8", **({"flags": "+ildct+ilme", "x264-params": "tff=1"} if flagged else {})}
        for i, rgb in enumerate(frames):
            f = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")
            f.pts = i
            for p in v.encode(f):
                c.mux(p)
        for p in v.encode(None):
            c.mux(p)
    return path


def _weave(top: np.ndarray, bottom: np.ndarray) -> np.ndarray:
    out = top.copy()
    out[1::2] = bottom[1::2]
    return out


def interlaced(path: Path, n: int = 12, flagged: bool = True, audio: bool = False) -> tuple[Path, list[np.ndarray]]:
    """A 25i clip woven from 50p frames of a photo panning (top field first), and the 50p truth."""
    truth = _photo_frames(256, 144, 2 * n)
    return _encode(path, [_weave(truth[2 * k], truth[2 * k + 1]) for k in range(n)], 25, flagged), truth


def combing(rgb: np.ndarray) -> float:
    """How combed a frame is: each row's distance from the mean of its neighbours, against the plain
    row-to-row change (a picture without combing has the first small where the second is not)."""
    y = rgb.astype(np.float32).mean(axis=2)
    return float(np.abs(y[1:-1] - (y[:-2] + y[2:]) / 2).mean() / (np.abs(np.diff(y, axis=0)).mean() + 1e-6))


def test_interlaced_video_is_deinterlaced_by_default_and_keeps_its_rate(tmp_path):
    src, truth = interlaced(tmp_path / "i25.mp4")
    res = restore_video(src, tmp_path / "out.mkv", NOTHING, VideoOptions(codec="ffv1", stabilize=False))
    out, before = planes(res.path, "rgb24"), planes(src, "rgb24")
    assert len(out) == 12 and res.metrics["deinterlace"]["mode"] == "frames"
    assert "interlaced (top field first)" in res.metrics["deinterlace"]["why"]
    assert np.mean([combing(f) for f in out]) < 0.6 * np.mean([combing(f) for f in before])
    # each frame is its top field's moment, filled in: closer to the true 50p frame than the woven one
    gain = [psnr(o, truth[2 * k]) - psnr(b, truth[2 * k]) for k, (o, b) in enumerate(zip(out, before))]
    assert np.median(gain) > 3, gain


def test_fields_makes_one_frame_per_field(tmp_path):
    src, truth = interlaced(tmp_path / "i25.mp4")
    res = restore_video(src, tmp_path / "out.mkv", NOTHING, VideoOptions(codec="ffv1", deinterlace="fields"))
    with av.open(str(res.path)) as c:
        frames = list(c.decode(video=0))
    times = [float(f.pts * f.time_base) for f in frames]
    assert len(frames) == 24 and np.allclose(np.diff(times), 0.02, atol=1e-3)
    out, woven = [f.to_ndarray(format="rgb24") for f in frames], planes(src, "rgb24")
    # each 50p moment is nearer its truth than the woven frame it came from (3 dB or more)
    gain = [psnr(o, t) - psnr(woven[k // 2], t) for k, (o, t) in enumerate(zip(out, truth))]
    assert np.median(gain) > 3, gain


def test_progressive_video_is_left_alone_and_a_misflagged_one_is_caught(tmp_path):
    src = clip(tmp_path / "p.mp4", n=12, w=256, h=144)
    auto = restore_video(src, tmp_path / "auto.mkv", NOTHING, VideoOptions(codec="ffv1"))
    off = restore_video(src, tmp_path / "off.mkv", NOTHING, VideoOptions(codec="ffv1", deinterlace="off"))
    assert auto.metrics["deinterlace"]["mode"] == "off"
    assert all(np.array_equal(a, b) for a, b in zip(planes(auto.path), planes(off.path)))
    hidden, _ = interlaced(tmp_path / "hidden.mp4", flagged=False)  # combed pictures, no interlace flags
    caught = restore_video(hidden, tmp_path / "caught.mkv", NOTHING, VideoOptions(codec="ffv1"))
    assert caught.metrics["deinterlace"]["mode"] == "frames"


def test_telecined_film_is_matched_back_to_its_24_frames(tmp_path):
    film = _photo_frames(256, 144, 24)
    pulled = []
    for k in range(0, 24, 4):  # 3:2 pulldown: AA BB BC CD DD
        a, b, c, d = film[k:k + 4]
        pulled += [a, b, _weave(b, c), _weave(c, d), d]
    src = _encode(tmp_path / "tc.mp4", pulled, Fraction(30000, 1001))
    res = restore_video(src, tmp_path / "out.mkv", NOTHING, VideoOptions(codec="ffv1"))
    assert res.metrics["deinterlace"]["mode"] == "film" and "telecined film" in res.metrics["deinterlace"]["why"]
    with av.open(str(res.path)) as c:
        assert abs(float(c.streams.video[0].average_rate) - 24000 / 1001) < 0.01
        out = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    assert len(out) == 24
    best = [max(range(24), key=lambda i, o=o: psnr(o, film[i])) for o in out]
    assert best == list(range(24)) and min(psnr(o, film[i]) for i, o in enumerate(out)) > 30  # whole frames


def test_ray_deinterlaces_as_one_run_does(tmp_path):
    from restoration.cluster import Cluster
    from restoration.cluster.connect import connect

    src, _ = interlaced(tmp_path / "i25.mp4", n=30)
    video = VideoOptions(codec="ffv1", segment_seconds=0.5)  # pieces of 12 frames, each needing its neighbours
    local = planes(restore_video(src, tmp_path / "local.mkv", NOTHING, video).path)
    ray = connect(Cluster(address="local"))
    try:
        res = restore_video(src, tmp_path / "ray.mkv", NOTHING, video,
                            executor=Cluster(address="local", workers=2, cpus_per_worker=1))
    finally:
        ray.shutdown()
    assert res.metrics["cluster"]["segments"] == 3
    assert all(np.array_equal(a, b) for a, b in zip(planes(res.path), local)) and len(local) == 30


# --- the preview -----------------------------------------------------------------------------------
def test_a_preview_restores_a_stretch_with_the_jobs_settings_and_estimates_the_whole(tmp_path):
    from restoration import preview_video

    src, _ = interlaced(tmp_path / "i25.mp4", n=25)  # 1 s of 25i
    from PIL import Image

    p = preview_video(src, tmp_path / "p", NOTHING, VideoOptions(), at=0.4, seconds=0.2)
    assert p.frames == 5 and p.metrics["deinterlace"]["mode"] == "frames"  # the whole video's decision
    assert combing(np.asarray(Image.open(p.after))) < 0.6 * combing(np.asarray(Image.open(p.before)))
    assert p.estimate_s > 0 and "the whole video should take about" in p.summary
    opts = RestoreOptions(upscale=2, model="realesr-general-x4v3", colorize="off", denoise=0, sharpen=0)
    one = preview_video(src, tmp_path / "one", opts, VideoOptions(), at=0.9, seconds=0)
    assert one.frames == 1 and Image.open(one.before).size == (256, 144) and Image.open(one.after).size == (512, 288)
    with pytest.raises(OptionError, match="at=5: the preview must start inside the video"):
        preview_video(src, tmp_path / "x", opts, VideoOptions(), at=5)


def test_the_client_previews_and_restores_old_footage(server, tmp_path):
    from client import RestorationClient

    src, _ = interlaced(tmp_path / "i25.mp4", n=10)
    with RestorationClient(server, download_dir=tmp_path / "dl") as c:
        p = c.preview_video(src, at=0, seconds=0, preset="none", upscale=0, colorize="off", denoise=0, sharpen=0)
        r = c.restore_video(src, preset="none", upscale=0, colorize="off", denoise=0, sharpen=0, codec="prores",
                            deinterlace="fields")
    assert p.before.is_file() and p.after.is_file() and p.video.is_file() and "Preview: 1 frame(s)" in p.said
    assert r.metrics["deinterlace"]["mode"] == "fields" and r.metrics["encoder"] == "prores_ks"
    assert len(planes(r.path, "rgb24")) == 20 and r.path.suffix == ".mov"
