"""Batch and video on Ray: one embedded Ray for the whole module (two 1-core workers), the tiny
random models, and every result compared with the local path's."""

from __future__ import annotations

import os
import signal
import sys
import threading
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest

from restoration import RestoreOptions, restore_archive, restore_folder, restore_video
from restoration.cluster import Cluster, as_cluster
from restoration.cluster.connect import check_reachable, connect, ray_module, size_workers
from restoration.errors import Cancelled, ModelLoadError, OptionError, RestorationError
from restoration.media import read_image, read_record
from restoration.video import VideoOptions, probe

from .test_video import audio_payload, frames_of, make_clip

# fp32: a CPU with bf16 would otherwise sum in an order that depends on its thread count, and the
# workers run with fewer threads than this process; these tests are about where work runs, not precision.
FAST = RestoreOptions(upscale=2, model="realesr-general-x4v3", colorize="off", denoise=0, sharpen=0, precision="fp32")
# denoise > 0 turns the temporal stabiliser on: its state must not step at segment borders
STABLE = RestoreOptions(upscale=2, model="realesr-general-x4v3", colorize="off", denoise=10, sharpen=0,
                        precision="fp32")
TWO = Cluster(address="local", workers=2, cpus_per_worker=1)


@pytest.fixture(scope="module")
def ray_local():
    """The module's embedded Ray, started once (2 CPUs: two 1-core workers)."""
    ray = connect(Cluster(address="local"))
    yield ray
    ray.shutdown()


def _images(folder: Path, n: int = 4, size: tuple[int, int] = (40, 56)) -> None:
    rng = np.random.default_rng(0)
    for i in range(n):
        sub = folder / ("" if i % 2 == 0 else "sub/deeper" if i % 3 == 0 else "sub")
        sub.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(sub / f"p{i}.{'jpg' if i == 1 else 'png'}"), rng.integers(0, 255, (*size, 3), np.uint8))


def _files(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def _same_pixels(a: Path, b: Path) -> bool:
    return np.array_equal(read_image(a).pixels, read_image(b).pixels)


# --------------------------------------------------------------------------------------------- batch
def test_batch_on_ray_is_the_local_batch(tmp_path, ray_local):
    _images(tmp_path / "in", 5)
    (tmp_path / "in" / "sub" / "broken.png").write_bytes(b"not a picture")
    local = restore_folder(tmp_path / "in", tmp_path / "local", FAST)
    seen = []
    remote = restore_folder(tmp_path / "in", tmp_path / "ray", FAST, executor=TWO,
                            on_item=lambda item, i, n: seen.append((i, n, item.status)))
    assert [(i.src, i.status, i.error) for i in remote.items] == [(i.src, i.status, i.error) for i in local.items]
    assert remote.line() == local.line() == "6 files: 5 restored, 0 already done, 1 failed"
    assert [(i, n) for i, n, _ in seen] == [(i, 6) for i in range(6)]  # progress as the local path gives it
    assert _files(tmp_path / "ray") == _files(tmp_path / "local")  # names, folders; no temporary file left
    for item in local.items:
        if item.status == "done":
            twin = tmp_path / "ray" / item.dst.relative_to(tmp_path / "local")
            assert _same_pixels(item.dst, twin)
            assert read_record(twin)["options"] == read_record(item.dst)["options"]
    assert {i.metrics["worker"] for i in remote.items if i.metrics} <= {f"{os.uname().nodename}:{p}" for p in
                                                                         _pids(remote)}
    again = restore_folder(tmp_path / "in", tmp_path / "ray", FAST, executor=TWO)  # a re-run resumes: nothing redone
    assert again.count("skipped") == 5 and again.count("failed") == 1


def _pids(summary) -> set[str]:
    return {i.metrics["worker"].rsplit(":", 1)[1] for i in summary.items if i.metrics}


def test_archive_on_ray_keeps_folders_and_leaves_no_unpacked_copy(tmp_path, ray_local):
    _images(tmp_path / "src", 3)
    archive = tmp_path / "album.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for f in _files(tmp_path / "src"):
            zf.write(tmp_path / "src" / f, f"album/{f}")
    summary = restore_archive(archive, tmp_path / "out", FAST, executor=TWO)
    assert summary.count("done") == 3
    assert {str(i.src) for i in summary.items} == {f"album.zip:album/{f}" for f in _files(tmp_path / "src")}
    assert _files(tmp_path / "out") == [f"album/{f}" for f in _files(tmp_path / "src")]


def test_bad_paths_are_refused_before_any_work(tmp_path, ray_local):
    with pytest.raises(RestorationError, match="nope: no such folder"):
        restore_folder(tmp_path / "nope", tmp_path / "out", FAST, executor=TWO)
    with pytest.raises(RestorationError, match=r"cannot reach the input .*elsewhere: .*every node mounts"):
        check_reachable(ray_local, {"input": tmp_path / "elsewhere", "output": tmp_path})
    with pytest.raises(RestorationError, match="no such file"):
        restore_archive(tmp_path / "none.zip", tmp_path / "out", FAST, executor=TWO)


def test_a_broken_model_stops_the_batch_as_locally(tmp_path, ray_local):
    _images(tmp_path / "in", 2)
    bad = tmp_path / "broken.safetensors"
    bad.write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{}garbage")
    opts = RestoreOptions(upscale=2, model=str(bad), colorize="off", denoise=0, sharpen=0)
    with pytest.raises(ModelLoadError) as local:
        restore_folder(tmp_path / "in", tmp_path / "local", opts)
    with pytest.raises(ModelLoadError) as remote:
        restore_folder(tmp_path / "in", tmp_path / "ray", opts, executor=TWO)
    assert str(remote.value) == str(local.value)


def test_a_worker_killed_mid_batch_loses_nothing(tmp_path, ray_local):
    _images(tmp_path / "in", 8, size=(96, 128))
    local = restore_folder(tmp_path / "in", tmp_path / "local", FAST)
    killed = []

    def kill_first_worker(item, index, total):
        if not killed and item.metrics:
            pid = int(item.metrics["worker"].rsplit(":", 1)[1])
            os.kill(pid, signal.SIGKILL)  # the actor dies with the files queued on it
            killed.append(pid)

    remote = restore_folder(tmp_path / "in", tmp_path / "ray", FAST, executor=TWO, on_item=kill_first_worker)
    assert killed
    assert [str(i.src) for i in remote.items] == [str(i.src) for i in local.items]  # each once, none lost
    assert remote.count("done") == 8
    assert _files(tmp_path / "ray") == _files(tmp_path / "local")
    assert all(_same_pixels(i.dst, tmp_path / "ray" / i.dst.relative_to(tmp_path / "local")) for i in local.items)


# --------------------------------------------------------------------------------------------- video
def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255**2 / mse)


def test_video_on_ray_is_the_local_video(tmp_path, ray_local):
    src = make_clip(tmp_path / "in.mp4", n=36, gop=5)
    video = VideoOptions(segment_seconds=1.0, batch=2)  # 12 frames a segment: 3 segments, borders at 12, 24
    local = restore_video(src, tmp_path / "local.mp4", STABLE, video)
    remote = restore_video(src, tmp_path / "ray.mp4", STABLE, video, executor=TWO)
    (fl, tl), (fr, tr) = frames_of(local.path), frames_of(remote.path)
    assert len(fr) == len(fl) == 36 and tr == tl  # every frame, its timestamp
    assert probe(remote.path).width == probe(local.path).width == 96
    assert audio_payload(remote.path) == audio_payload(local.path) == audio_payload(src)
    assert remote.metrics["frames"] == 36 and remote.metrics["stabilized"]
    assert remote.metrics["cluster"]["segments"] == 3 and remote.metrics["cluster"]["warmup_frames"] == 16
    psnr = [_psnr(a, b) for a, b in zip(fl, fr)]
    assert min(psnr) > 40, psnr  # the warm-up carries the stabiliser's state across the borders
    # the frame-to-frame change at a border is the local one: no step where a worker took over
    for border in (12, 24):
        step_l = np.abs(fl[border].astype(int) - fl[border - 1]).mean()
        step_r = np.abs(fr[border].astype(int) - fr[border - 1]).mean()
        assert abs(step_r - step_l) < 0.25, (border, step_l, step_r)


def test_colorize_auto_is_decided_once_for_every_worker(tmp_path, ray_local):
    """A film that opens in black and white: locally its first frame decides, and so it must on Ray,
    where the second segment starts on a colour frame. (Two frames, one a segment: DDColor at 512 px
    takes seconds a frame on this CPU.)"""
    import av

    from restoration.video.plan import first_frame_monochrome

    from .test_video import _picture

    src = tmp_path / "opening.mp4"
    with av.open(str(src), "w") as c:
        v = c.add_stream("libx264", rate=2)
        v.width, v.height, v.pix_fmt = 48, 32, "yuv420p"
        for i in range(2):
            frame = av.VideoFrame.from_ndarray(_picture(i, 48, 32, gray=i == 0), format="rgb24")
            frame.pts = i
            c.mux(v.encode(frame))
        c.mux(v.encode(None))
    opts = RestoreOptions(upscale=0, colorize="auto", color_model="ddcolor-tiny", denoise=0, sharpen=0)
    assert first_frame_monochrome(src, opts) is True
    video = VideoOptions(segment_seconds=0.5, stabilize=False)  # one frame a segment, no warm-up
    local = restore_video(src, tmp_path / "local.mp4", opts, video)
    remote = restore_video(src, tmp_path / "ray.mp4", opts, video, executor=Cluster(address="local", workers=1))
    assert remote.metrics["cluster"]["segments"] == 2
    fl, fr = frames_of(local.path)[0], frames_of(remote.path)[0]
    assert len(fr) == 2 and _psnr(fl[1], fr[1]) > 35  # the colour frame was colorized on Ray as locally


def test_variable_frame_rate_on_ray(tmp_path, ray_local):
    src = make_clip(tmp_path / "vfr.mp4", n=20, vfr=True, gop=4)
    video = VideoOptions(segment_seconds=0.5)
    res = restore_video(src, tmp_path / "out.mkv", FAST, video, executor=TWO)
    local = restore_video(src, tmp_path / "local.mkv", FAST, video)
    # (Matroska shifts every stream by the AAC priming, 64 ms here, as the local path does: sync is kept)
    assert frames_of(res.path)[1] == frames_of(local.path)[1] and len(frames_of(src)[1]) == 20
    assert res.metrics["cluster"]["segments"] > 2


def test_a_video_whose_timestamps_cannot_be_split_runs_whole_on_one_worker(tmp_path, ray_local, monkeypatch):
    import restoration.video.plan as plan

    monkeypatch.setattr(plan, "frame_times", lambda src: None)  # as for missing or repeated timestamps
    src = make_clip(tmp_path / "in.mp4", n=12)
    res = restore_video(src, tmp_path / "out.mp4", FAST, VideoOptions(), executor=TWO)
    assert frames_of(res.path)[1] == pytest.approx(frames_of(src)[1], abs=1e-3)
    assert audio_payload(res.path) == audio_payload(src)
    assert any("do not allow splitting" in w for w in res.metrics["warnings"])
    assert res.metrics["cluster"]["workers"] == "1 worker (the whole video)"


def test_a_worker_killed_mid_video_is_retried(tmp_path, ray_local):
    ray = ray_local
    src = make_clip(tmp_path / "in.mp4", n=48, gop=6)
    killed: list[int] = []

    def kill_one(fraction, message):
        if killed or fraction <= 0:
            return
        names = [a["name"] for a in ray.util.list_named_actors(all_namespaces=True)
                 if a["name"].startswith("restoration-video-")]
        if names:
            pid = ray.get(ray.get_actor(sorted(names)[0]).pid.remote())
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)

    res = restore_video(src, tmp_path / "out.mp4", FAST, VideoOptions(segment_seconds=1.0), executor=TWO,
                        progress=kill_one)
    assert killed
    frames, times = frames_of(res.path)
    assert len(frames) == 48 and times == pytest.approx(frames_of(src)[1], abs=1e-3)
    assert res.metrics["frames"] == 48
    assert not (tmp_path / ".out.mp4.parts").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_a_segment_whose_worker_keeps_dying_stops_the_job_with_a_clear_error(tmp_path, ray_local, monkeypatch):
    import restoration.cluster.video as on_ray
    from restoration.errors import VideoWriteError

    monkeypatch.setattr(on_ray, "RETRIES", 0)  # no second try: the first death is the last
    src = make_clip(tmp_path / "in.mp4", n=48, gop=6)
    killed: list[int] = []

    def kill_one(fraction, message):
        if not killed and fraction > 0:
            names = sorted(a["name"] for a in ray_local.util.list_named_actors(all_namespaces=True)
                           if a["name"].startswith("restoration-video-"))
            pid = ray_local.get(ray_local.get_actor(names[0]).pid.remote())
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)

    with pytest.raises(VideoWriteError, match=r"in\.mp4: the worker restoring segment \d+ \(frames \d+-\d+\) died on "
                                              r"each of 1 tries .*run again to resume"):
        restore_video(src, tmp_path / "out.mp4", FAST, VideoOptions(segment_seconds=1.0),
                      executor=Cluster(address="local", workers=1, cpus_per_worker=1), progress=kill_one)
    assert killed and not (tmp_path / "out.mp4").exists()


def test_a_stopped_driver_resumes(tmp_path, ray_local):
    src = make_clip(tmp_path / "in.mp4", n=48, gop=6)
    out = tmp_path / "out.mp4"
    video = VideoOptions(segment_seconds=1.0)
    cancel = threading.Event()
    with pytest.raises(Cancelled):
        restore_video(src, out, FAST, video, executor=Cluster(address="local", workers=1, cpus_per_worker=1),
                      cancel=cancel, progress=lambda f, m: cancel.set() if f > 0.3 else None)
    parts = tmp_path / ".out.mp4.parts"
    assert not out.exists()
    finished = sorted(p.name for p in parts.glob("seg_*") if ".tmp" not in p.name)
    assert finished  # whole segments under final names; a partial one only under a .tmp name
    res = restore_video(src, out, FAST, video, executor=TWO)
    assert res.metrics["cluster"]["segments_resumed"] == len(finished) and res.resumed_frames == 12 * len(finished)
    assert frames_of(out)[1] == pytest.approx(frames_of(src)[1], abs=1e-3)
    assert audio_payload(out) == audio_payload(src)


def test_a_killed_driver_on_a_joined_cluster_resumes(tmp_path, ray_local, tiny_models_dir, capsys):
    """A driver process that joins the cluster by address and is SIGKILLed mid-job: Ray ends its
    workers, the finished segments stay, and the same command run again finishes the video."""
    import json
    import subprocess
    import time

    from restoration.cli import main

    src = make_clip(tmp_path / "long.mp4", w=64, h=48, n=240, fps=12, gop=6)
    out, parts = tmp_path / "long_x2.mp4", tmp_path / ".long_x2.mp4.parts"
    model = str(tiny_models_dir / "realesr-general-x4v3.safetensors")  # a file: no settings needed on workers
    args = ["video", str(src), "-o", str(out), "--upscale", "2", "--model", model, "--colorize", "off",
            "--denoise", "0", "--sharpen", "0", "--segment-seconds", "1", "--json"]
    address = ray_local.get_runtime_context().gcs_address
    proc = subprocess.Popen([sys.executable, "-m", "restoration", *args, "--ray", address, "--workers", "1",
                             "--cpus-per-worker", "1"], cwd=Path(__file__).resolve().parents[1],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not [p for p in parts.glob("seg_*") if ".tmp" not in p.name]:
            assert proc.poll() is None, "the driver ended before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert not out.exists()
    done = [p for p in parts.glob("seg_*") if ".tmp" not in p.name]
    assert 1 <= len(done) < 20
    assert main([*args, "--ray", "local", "--workers", "2", "--cpus-per-worker", "1"]) == 0
    metrics = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert metrics["frames"] == 240 and metrics["cluster"]["segments"] == 20
    assert metrics["cluster"]["segments_resumed"] >= len(done)
    assert frames_of(out)[1] == pytest.approx(frames_of(src)[1], abs=1e-3)
    assert not parts.exists()


# ----------------------------------------------------------------------------------- CLI and sizing
def test_command_line_ray_flags(tmp_path, ray_local, capsys):
    from restoration.cli import main

    _images(tmp_path / "in", 2)
    args = ["batch", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--upscale", "2", "--model",
            "realesr-general-x4v3", "--colorize", "off"]
    assert main([*args, "--ray", "local", "--workers", "2", "--cpus-per-worker", "1"]) == 0
    assert "2 files: 2 restored" in capsys.readouterr().out
    assert main([*args, "--workers", "2"]) == 2
    assert "need --ray" in capsys.readouterr().err
    assert main([*args, "--ray", "--workers", "0"]) == 2
    # (video --ray: test_a_killed_driver_on_a_joined_cluster_resumes, by address and with "local")


def test_workers_are_sized_to_the_cluster():
    gpus = {"GPU": 2.0, "CPU": 32.0}
    w = size_workers(Cluster(), "auto", gpus)
    assert (w.count, w.resources["num_gpus"], w.on_gpu, w.threads) == (2, 1.0, True, 16)  # cores shared out
    assert size_workers(Cluster(gpus_per_worker=0.5), "auto", gpus).count == 4
    cpu = size_workers(Cluster(), "cpu", gpus)  # device cpu: CPU workers even where GPUs are
    assert (cpu.count, cpu.resources["num_cpus"], cpu.threads, cpu.on_gpu) == (8, 4.0, 4, False)
    assert size_workers(Cluster(workers=50), "auto", gpus).count == 2  # capped at what fits
    assert size_workers(Cluster(), "auto", {"CPU": 2.0}).count == 1  # one worker of both cores
    with pytest.raises(OptionError, match="no GPU"):
        size_workers(Cluster(), "cuda", {"CPU": 8.0})
    with pytest.raises(OptionError):
        Cluster(gpus_per_worker=0)
    assert as_cluster(True) == as_cluster("") == Cluster() and as_cluster("ray://h:10001").address == "ray://h:10001"


def test_without_ray_installed_the_error_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(OptionError, match=r"restoration\[cluster\]"):
        ray_module()


# ----------------------------------------------------------------------------------------------- app
def test_app_runs_batch_and_video_on_ray(server, ray_local, tmp_path, monkeypatch):
    import app
    from client import RestorationClient

    monkeypatch.setattr(app.settings(), "ray_address", "local")
    _images(tmp_path / "in", 2)
    files = sorted((tmp_path / "in").rglob("*.*"))
    src = make_clip(tmp_path / "clip.mp4", n=12, gop=4)
    with RestorationClient(server, download_dir=tmp_path / "dl") as c:
        batch = c.restore_batch(files, upscale=2, model="realesr-general-x4v3", colorize="off")
        res = c.restore_video(src, upscale=2, model="realesr-general-x4v3", colorize="off")
    assert len(batch.report["restored"]) == 2 and batch.archive is not None
    assert res.metrics["frames"] == 12 and "cluster" in res.metrics
    assert frames_of(res.path)[1] == pytest.approx(frames_of(src)[1], abs=1e-3)


def test_app_reads_its_cluster_from_the_setting(monkeypatch):
    import app

    monkeypatch.setenv("RESTORATION_RAY_ADDRESS", "ray://head:10001")
    assert app.config.app_settings().ray_address == "ray://head:10001"
    cfg = app.config.app_settings()
    monkeypatch.setattr(app, "settings", lambda: cfg)
    texts = [c.get("props", {}).get("value") for c in app.build_app().config["components"]]
    assert "Batch and video jobs run on the Ray cluster `ray://head:10001`." in texts  # the page says where
    monkeypatch.delenv("RESTORATION_RAY_ADDRESS")
    assert app.config.app_settings().ray_address is None  # unset: jobs run in the app's own process


def test_scaling_harness_runs_and_reports(tmp_path, ray_local, monkeypatch):
    bench = Path(__file__).resolve().parents[1] / "benchmarks"
    monkeypatch.syspath_prepend(str(bench))
    sys.modules.pop("scaling", None)
    import scaling

    out = tmp_path / "scaling.json"
    result = scaling.main(["--workers", "1", "--images", "3", "--size", "32", "--frames", "36",
                           "--segment-seconds", "0.5", "--model", "realesr-general-x4v3", "--project", "8",
                           "--cpus-per-worker", "1", "--json", str(out)])
    rows = {(r["job"], r["workers"]): r for r in result["rows"]}
    assert set(rows) == {("batch", "local"), ("video", "local"), ("batch", 1), ("video", 1)}
    assert rows[("batch", 1)]["items"] == 3 and rows[("video", 1)]["items"] == 36
    assert rows[("video", 1)]["segments"] == 3 and rows[("batch", 1)]["speedup"] == 1.0
    assert all(p["from"] == "projection, not measured" for p in result["projection"])
    assert "| batch | 8 (projection) |" in scaling.table(result)


def _two_faces_clip(path: Path, n: int = 24, change: int = 4, fps: int = 12) -> Path:
    """The astronaut's face on the left for ``change`` frames, then (a new scene) her mirrored face on
    the right: two face tracks, lossless (FFV1), so local and cluster frames compare exactly."""
    import av
    from skimage import data

    face = np.ascontiguousarray(data.astronaut()[::2, ::2][0:128, 64:192])
    frames = [np.zeros((128, 256, 3), np.uint8) + 40 for _ in range(2)]
    frames[0][:, :128], frames[1][:, 128:] = face, face[:, ::-1]
    with av.open(str(path), "w") as c:
        v = c.add_stream("ffv1", rate=fps)
        v.width, v.height, v.pix_fmt = 256, 128, "yuv444p"
        for i in range(n):
            frame = av.VideoFrame.from_ndarray(frames[0 if i < change else 1], format="rgb24")
            frame.pts = i
            c.mux(v.encode(frame))
        c.mux(v.encode(None))
    return path


def test_parsed_face_masks_do_not_leak_between_segments_of_one_worker(tmp_path, ray_local):
    """One worker restores both segments. The second segment's warm-up starts on the new face, whose
    track id restarts at 0 in that segment: it must get its own parsed mask, as locally (where its
    track is id 1), not the mask the worker cached for the first segment's face 0."""
    src = _two_faces_clip(tmp_path / "faces.mkv")
    opts = RestoreOptions(upscale=0, face="restoreformer", face_mask="parse", face_min_size=8, colorize="off",
                          denoise=0, sharpen=0)
    video = VideoOptions(codec="ffv1", segment_seconds=1.0, stabilize=False)  # segments of 12 frames
    local = restore_video(src, tmp_path / "local.mkv", opts, video)
    remote = restore_video(src, tmp_path / "ray.mkv", opts, video, executor=Cluster(address="local", workers=1))
    assert local.metrics["faces"]["tracks"] == 2 and remote.metrics["cluster"]["segments"] == 2
    (fl, _), (fr, _) = frames_of(local.path), frames_of(remote.path)
    assert len(fr) == len(fl) == 24
    diff = [float(np.abs(a.astype(int) - b).max()) for a, b in zip(fl, fr)]
    assert max(diff) <= 2, diff  # faces included: the same frames as locally


def test_golden_video_and_batch_on_ray(tmp_path, ray_local):
    """Ray gives what the local path gave before the video code became frames and passes (tests/golden.py)."""
    from . import golden

    out = tmp_path / "out.mkv"
    res = restore_video(golden.make_video(tmp_path / "in.mkv"), out, golden.OPTIONS, golden.VIDEO, executor=TWO)
    assert res.metrics["cluster"]["segments"] == 3
    restore_folder(golden.make_pictures(tmp_path / "pics"), tmp_path / "done", golden.PICTURES,
                   executor=TWO)
    golden.check(golden.video_frames(out), golden.batch_pixels(tmp_path / "done"))
