"""Frame interpolation (RIFE 4.25/4.26): the network and its file, the library call, the video pass on
every executor, the app and the client.

A random-weight IFNet, saved as training leaves it (``module.`` prefix, ``teacher``/``caltime`` parts),
proves the plumbing; the trained weights in ``../shared/weights`` (skipped without them) prove the
pictures: real photos moved by known amounts, where the true middle frame is known.
"""

from __future__ import annotations

import threading
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch

from restoration import RestoreOptions, interpolate, restore_video
from restoration.errors import Cancelled, ModelLoadError, OptionError
from restoration.interpolation import load_interpolator
from restoration.interpolation.ifnet import IFNet
from restoration.options import VideoOptions, build_video_options
from restoration.video.interpolate import Retiming

from . import golden
from .conftest import SHARED_WEIGHTS
from .test_video import audio_payload, frames_of, make_clip

TRAINED = SHARED_WEIGHTS / "rife-4.26.flownet.pkl"
PLAIN = RestoreOptions(upscale=0, colorize="off", denoise=0, sharpen=0, precision="fp32")


@pytest.fixture(scope="module")
def rife(tmp_path_factory) -> Path:
    """A random-weight RIFE 4.26 saved as a training checkpoint: ``module.`` prefix, training-only parts."""
    torch.manual_seed(0)
    net = IFNet()
    state = {f"module.{k}": v for k, v in net.state_dict().items()}
    state["module.teacher.conv0.weight"] = torch.zeros(4, 4, 3, 3)
    state["module.caltime.0.weight"] = torch.zeros(2)
    path = tmp_path_factory.mktemp("rife") / "flownet.pkl"
    torch.save(state, path)
    return path


def _frames(h: int = 40, w: int = 56, shift: int = 4) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    a = (rng.random((h, w + shift, 3)) * 255).astype(np.uint8)
    return a[:, :w].copy(), a[:, shift:].copy()


# --- the network and its file ----------------------------------------------------------------------
def test_a_training_checkpoint_loads_and_other_files_are_refused_with_what_they_are(rife, tmp_path):
    net = load_interpolator(str(rife), "cpu", "fp32")
    assert isinstance(net.net, IFNet) and net.dtype == torch.float32
    torch.save({"conv.weight": torch.zeros(3, 3, 3, 3)}, tmp_path / "other.pkl")
    with pytest.raises(ModelLoadError, match=r"other.pkl is not a RIFE frame-interpolation model"):
        load_interpolator(str(tmp_path / "other.pkl"), "cpu", "fp32")
    state = {k: v for k, v in torch.load(rife, weights_only=True).items() if "block4" not in k}
    torch.save(state, tmp_path / "older.pkl")
    with pytest.raises(ModelLoadError, match=r"older.pkl is RIFE of another version than 4.25/4.26 \(missing"):
        load_interpolator(str(tmp_path / "older.pkl"), "cpu", "fp32")


def test_a_pickle_that_would_run_code_is_refused(tmp_path):
    import pickle

    class Evil:
        def __reduce__(self):
            return (print, ("this ran",))

    (tmp_path / "evil.pkl").write_bytes(pickle.dumps({"block0.conv0.0.0.weight": Evil()}))
    with pytest.raises(ModelLoadError, match="evil.pkl could not be read as model weights"):
        load_interpolator(str(tmp_path / "evil.pkl"), "cpu", "fp32")


def test_the_interpolation_model_option_takes_ids_files_and_hub_refs_only_of_its_kind():
    assert build_video_options(interpolate=2).interpolation_model == "rife-4.26"
    assert build_video_options(fps=24, interpolation_model="hf:someone/rife/flownet.pkl").interpolates
    with pytest.raises(OptionError, match="interpolation_model='realesrgan-x4plus' is a super-resolution model"):
        build_video_options(interpolate=2, interpolation_model="realesrgan-x4plus")
    with pytest.raises(OptionError, match="interpolate=2 and fps=24 both set the frame rate"):
        build_video_options(interpolate=2, fps=24)
    with pytest.raises(OptionError, match="interpolate=9 is out of range"):
        build_video_options(interpolate=9)


# --- the library call ------------------------------------------------------------------------------
def test_interpolate_gives_frames_of_the_input_size_at_any_moment(rife):
    """Any size (padded to a multiple of 64 inside, cropped back)."""
    a, b = _frames()
    mid = interpolate(a, b, model=str(rife), device="cpu", precision="fp32")
    assert mid.shape == a.shape and mid.dtype == np.uint8
    thirds = interpolate(a, b, [1 / 3, 2 / 3], model=str(rife), device="cpu", precision="fp32")
    assert len(thirds) == 2 and all(t.shape == a.shape for t in thirds)
    with pytest.raises(OptionError, match="t must be between 0 and 1"):
        interpolate(a, b, 1.0, model=str(rife))
    with pytest.raises(OptionError, match="frames of different sizes"):
        interpolate(a, b[:, :40].copy(), model=str(rife), device="cpu", precision="fp32")


def test_a_flat_picture_stays_flat_whatever_the_motion(rife):
    """Warping moves pixels (the frame's edge repeated beyond it) and the mask mixes two warped frames:
    of one flat colour, every warp and every mix is that colour, whatever the (random) flow and mask."""
    flat = np.full((64, 128, 3), (200, 90, 30), np.uint8)  # no padding: the sides are multiples of 64
    mid = interpolate(flat, flat, model=str(rife), device="cpu", precision="fp32")
    assert mid.shape == flat.shape and int(np.abs(mid.astype(int) - flat).max()) <= 1


# --- timing ----------------------------------------------------------------------------------------
def test_retiming_puts_each_frame_at_its_exact_moment():
    double = Retiming.make(Fraction(1, 12), Fraction(12), 2, None)
    assert double.out_time_base == Fraction(1, 24) and double.out_rate == 24
    assert double.moments(5, 6) == [(10, 0.0), (11, 0.5)]
    assert double.moments(23, None) == [(46, 0.0), (47, 0.5)]  # the last frame's gap: its own duration
    triple = Retiming.make(Fraction(1, 1000), Fraction(10), 3, None)  # a variable rate stays variable
    assert triple.moments(0, 120) == [(0, 0.0), (120, 1 / 3), (240, 2 / 3)]
    assert triple.moments(120, 170) == [(360, 0.0), (410, 1 / 3), (460, 2 / 3)]
    film = Retiming.make(Fraction(1, 16), Fraction(16), 1, 24.0)  # 16 -> 24: two of three frames are new
    assert film.out_time_base == Fraction(1, 24)
    assert film.moments(0, 1) == [(0, 0.0), (1, pytest.approx(2 / 3))]  # 1/24 s into a 1/16 s gap
    assert film.moments(1, 2) == [(2, pytest.approx(1 / 3))] and film.moments(2, 3)[0] == (3, 0.0)
    assert film.count(list(range(16))) == 24
    assert Retiming.make(Fraction(1, 25), Fraction(25), 1, 50.0).count(list(range(25))) == 50


# --- the video pass --------------------------------------------------------------------------------
@pytest.mark.parametrize(("video", "frames", "fps", "made", "repeated"), [
    (VideoOptions(codec="ffv1", interpolate=2), 48, 24.0, 23, 1),
    (VideoOptions(codec="ffv1", interpolate=3), 72, 36.0, 46, 2),
    # 12 -> 30: every second frame falls on the new rate's grid; 46 are drawn, 2 fill the last frame's time
    (VideoOptions(codec="ffv1", fps=30), 60, 30.0, 46, 2),
])
def test_a_video_gets_its_new_frames_at_their_moments_with_its_length_and_audio(rife, tmp_path, video, frames,
                                                                               fps, made, repeated):
    src = make_clip(tmp_path / "in.mp4", n=24, fps=12)
    res = restore_video(src, tmp_path / "out.mkv", PLAIN, _with(video, interpolation_model=str(rife)))
    out, times = frames_of(res.path)
    assert len(out) == frames and out[0].shape == (32, 48, 3)
    assert np.allclose(np.diff(times), 1 / fps, atol=1e-3)  # even steps at the new rate
    assert abs((times[-1] - times[0] + 1 / fps) - 2.0) < 1e-3  # the same length: 2 s
    assert audio_payload(res.path) == audio_payload(src)
    info = res.metrics["interpolation"]
    assert (info["fps_out"], info["frames_written"], info["made"], info["repeated"]) == (fps, frames, made, repeated)
    assert res.metrics["frames"] == 24
    plain = frames_of(restore_video(src, tmp_path / "plain.mkv", PLAIN, VideoOptions(codec="ffv1")).path)[0]
    assert np.array_equal(out[0], plain[0])  # the video's own frames are the restored ones, untouched
    if video.interpolate > 1:
        assert all(np.array_equal(out[k * video.interpolate], plain[k]) for k in range(24))


def _with(video: VideoOptions, **kw) -> VideoOptions:
    from dataclasses import replace

    return replace(video, **kw)


def test_no_frame_is_made_across_a_scene_cut(rife, tmp_path):
    """golden's clip cuts before frame 9: the moment between 8 and 9 repeats one of them, never mixes."""
    src = golden.make_video(tmp_path / "cut.mkv")
    res = restore_video(src, tmp_path / "out.mkv", PLAIN, VideoOptions(codec="ffv1", interpolate=2,
                                                                       interpolation_model=str(rife)))
    out, _ = frames_of(res.path)
    assert len(out) == 2 * golden.FRAMES and res.metrics["scene_cuts"] == 1
    at_cut = out[2 * golden.CUT - 1]
    assert np.array_equal(at_cut, out[2 * golden.CUT - 2]) or np.array_equal(at_cut, out[2 * golden.CUT])
    assert res.metrics["interpolation"]["repeated"] == 2  # the cut's moment and the one after the last frame


def test_features_are_computed_once_per_frame(rife, tmp_path, monkeypatch):
    net = load_interpolator(str(rife), "cpu", "fp32")
    calls = []
    original = type(net.net).features
    monkeypatch.setattr(type(net.net), "features", lambda self, x: calls.append(1) or original(self, x))
    src = make_clip(tmp_path / "in.mp4", n=12, fps=12, audio=False)
    restore_video(src, tmp_path / "out.mkv", PLAIN, VideoOptions(codec="ffv1", interpolate=3,
                                                                 interpolation_model=str(rife)))
    assert len(calls) == 12  # one per frame, for two in-between frames per gap


def test_pieces_and_a_resume_give_the_one_run_frames(rife, tmp_path):
    """Segments of 6 frames (borders at 6 and 12 with a cut at 9): the look-ahead frame gives each piece's
    last gap; a run stopped part-way and resumed gives the same frames as one run."""
    src = golden.make_video(tmp_path / "in.mkv")
    video = VideoOptions(codec="ffv1", segment_seconds=0.5, interpolate=2, interpolation_model=str(rife))
    whole = frames_of(restore_video(src, tmp_path / "whole.mkv", PLAIN, _with(video, segment_seconds=10)).path)
    cancel, seen = threading.Event(), []

    def progress(fraction: float, message: str) -> None:
        seen.append(message)
        if "frame 24/" in message:  # 12 of 16 frames: the writer (8 frames behind at most) has closed segment 0
            cancel.set()

    with pytest.raises(Cancelled):
        restore_video(src, tmp_path / "cut.mkv", PLAIN, video, progress=progress, cancel=cancel)
    resumed = restore_video(src, tmp_path / "cut.mkv", PLAIN, video)
    assert resumed.metrics["resumed_from_frame"] > 0
    again = frames_of(resumed.path)
    assert again[1] == whole[1] and all(np.array_equal(a, b) for a, b in zip(again[0], whole[0]))
    assert any("/32" in m for m in seen)  # the progress counts the frames that will be written


def test_ray_gives_the_local_frames(rife, tmp_path):
    from restoration.cluster import Cluster
    from restoration.cluster.connect import connect

    src = golden.make_video(tmp_path / "in.mkv")
    video = VideoOptions(codec="ffv1", segment_seconds=0.5, interpolate=2, interpolation_model=str(rife))
    local = frames_of(restore_video(src, tmp_path / "local.mkv", PLAIN, video).path)
    ray = connect(Cluster(address="local"))
    try:
        res = restore_video(src, tmp_path / "ray.mkv", PLAIN, video,
                            executor=Cluster(address="local", workers=2, cpus_per_worker=1))
    finally:
        ray.shutdown()
    remote = frames_of(res.path)
    assert res.metrics["cluster"]["segments"] == 3 and remote[1] == local[1]
    assert all(np.array_equal(a, b) for a, b in zip(remote[0], local[0]))


# --- trained weights -------------------------------------------------------------------------------
@pytest.mark.skipif(not TRAINED.is_file(), reason="needs ../shared/weights/rife-4.26.flownet.pkl")
def test_trained_rife_draws_the_true_middle_of_moving_photos():
    import cv2
    from skimage import data

    bg = cv2.resize(data.coffee(), (320 + 96, 192 + 96), interpolation=cv2.INTER_CUBIC)
    patch = cv2.resize(data.astronaut()[30:250, 140:360], (64, 64), interpolation=cv2.INTER_AREA)

    def frame(k: int) -> np.ndarray:
        f = bg[40 + 2 * k:40 + 2 * k + 192, 40 + 4 * k:40 + 4 * k + 320].copy()
        f[50 + k * 3:114 + k * 3, 120 - 5 * k:184 - 5 * k] = patch
        return f

    a, truth, b = frame(0), frame(1), frame(2)
    mid = interpolate(a, b, model=str(TRAINED), device="cpu")
    blend = ((a.astype(np.uint16) + b) // 2).astype(np.uint8)

    def psnr(x: np.ndarray) -> float:
        return 10 * np.log10(255**2 / np.mean((x.astype(float) - truth.astype(float)) ** 2))

    assert psnr(mid) > 33 and psnr(mid) > psnr(blend) + 10, (psnr(mid), psnr(blend))


# --- the app and the client ------------------------------------------------------------------------
def test_the_client_asks_for_smoother_motion_and_a_file_path_is_refused(server, tmp_path):
    from client import ClientError, RestorationClient

    src = make_clip(tmp_path / "in.mp4", n=12, fps=12)
    with RestorationClient(server, download_dir=tmp_path / "dl") as c:
        r = c.restore_video(src, preset="none", upscale=0, colorize="off", denoise=0, sharpen=0, codec="ffv1",
                            interpolate=2)
        with pytest.raises(ClientError, match="Interpolation model.*not in the list of choices"):
            c.restore_video(src, preset="none", upscale=0, interpolate=2, interpolation_model=str(tmp_path / "x.pkl"))
        with pytest.raises(ClientError, match="both set the frame rate"):
            c.restore_video(src, preset="none", upscale=0, interpolate=2, fps=30)
    out, times = frames_of(r.path)
    assert len(out) == 24 and np.allclose(np.diff(times), 1 / 24, atol=1e-3)
    assert r.metrics["interpolation"]["fps_out"] == 24.0 and r.metrics["interpolation"]["model"] == "rife-4.26"
    assert audio_payload(r.path) == audio_payload(src)
