"""Face restoration: geometry with an identity network, the networks' call contracts, the stage in
the pipeline, and bad input. The detector is the real YuNet (kept in tests/fixtures); the face networks
are random-weight real architectures loaded through spandrel."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from restoration import ModelLoadError, OptionError, build_options, restore_image
from restoration.faces import FaceReport, detect_faces, restore_faces
from restoration.faces.geometry import CROP, box_mask
from restoration.faces.restore import face_network
from restoration.faces.track import FaceTracker
from restoration.models import load_model
from restoration.stages import resize

from .conftest import YUNET

FAST = dict(model="realesr-general-x4v3", colorize="off", denoise=0, sharpen=0)


@pytest.fixture(scope="module")
def portrait() -> np.ndarray:
    """scikit-image's astronaut at 256x256: one face of about 44x53 px."""
    from skimage import data

    return np.ascontiguousarray(data.astronaut()[::2, ::2])


def _tensor(img: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(img).permute(2, 0, 1)[None].float() / 255


def _psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(10 * torch.log10(1 / ((a - b) ** 2).mean()))


def test_yunet_finds_the_face_with_five_landmarks_in_order(portrait):
    faces = detect_faces(portrait, YUNET)
    assert len(faces) == 1
    (x, y, w, h), lm = faces[0].box, faces[0].landmarks
    assert 30 < w < 70 and 40 < h < 80 and lm.shape == (5, 2)
    assert lm[0, 0] < lm[1, 0] and lm[3, 0] < lm[4, 0]  # image-left before image-right
    assert lm[0, 1] < lm[2, 1] < lm[3, 1]  # eyes above nose above mouth
    assert all(x <= px <= x + w and y <= py <= y + h for px, py in lm)


def test_small_faces_in_a_large_picture_are_found_by_the_larger_copies(portrait):
    big = np.full((1600, 2400, 3), 128, np.uint8)
    face = np.asarray(Image.fromarray(portrait).resize((96, 96)))  # a ~17 px face in a 2400 px picture
    big[700:796, 1500:1596] = face
    found = detect_faces(big, YUNET)
    assert len(found) == 1 and 1500 < found[0].box[0] < 1596 and 700 < found[0].box[1] < 796


@pytest.mark.parametrize("scale", [1, 2, 4])
def test_identity_network_puts_every_pixel_back(portrait, scale):
    """detect -> align -> identity -> paste reproduces the (resized) input inside the face box to well
    over 40 dB: no shift, no scale error; outside the pasted area nothing changes at all."""
    src = _tensor(portrait)
    target = resize(src, (256 * scale, 256 * scale))
    faces = detect_faces(portrait, YUNET)
    out = restore_faces(src, target, [faces], lambda crops: crops)
    x, y, w, h = (round(v * scale) for v in faces[0].box)
    assert _psnr(out[..., y : y + h, x : x + w], target[..., y : y + h, x : x + w]) >= 40
    changed = (out != target).any(1)[0].nonzero()
    assert changed.numel() and changed[:, 0].min() > 0 and changed[:, 1].max() < 256 * scale - 1
    # a network that shifts the face by 2 crop pixels is caught by the same measure
    shifted = restore_faces(src, target, [faces], lambda crops: torch.roll(crops, 2, dims=-1))
    assert _psnr(shifted[..., y : y + h, x : x + w], target[..., y : y + h, x : x + w]) < 40


def test_overlapping_faces_paste_without_seams(portrait):
    src = _tensor(portrait)
    face = detect_faces(portrait, YUNET)[0]
    nudged = type(face)(tuple(v + 3 for v in face.box[:2]) + face.box[2:], face.landmarks + 3, face.score)
    out = restore_faces(src, src, [[face, nudged]], lambda crops: crops)
    x, y, w, h = (round(v) for v in face.box)
    assert _psnr(out[..., y : y + h, x : x + w], src[..., y : y + h, x : x + w]) >= 35
    grad = (out[..., 1:, :] - out[..., :-1, :]).abs().max()
    assert grad <= (src[..., 1:, :] - src[..., :-1, :]).abs().max() + 0.05  # no new edge


def test_box_mask_is_soft_and_zero_at_the_crop_border():
    m = box_mask(torch.device("cpu"))
    assert m.shape == (1, 1, CROP, CROP) and float(m[..., 256, 256]) == 1.0
    assert float(m[..., 0, :].max()) == 0.0 and float(m[..., :, -1].max()) == 0.0
    assert 0 < float(m[..., 256, 20]) < 1


def test_no_face_means_exactly_the_output_without_the_stage(photo):
    without = restore_image(photo, build_options(upscale=2, **FAST))
    with_faces = restore_image(photo, build_options(upscale=2, face="restoreformer", **FAST))
    assert np.array_equal(without.image.pixels, with_faces.image.pixels)
    assert with_faces.metrics["faces"] == {"found": 0, "restored": 0, "skipped": 0, "boxes": [],
                                           "note": "no face found"}
    assert "faces" not in with_faces.metrics["models"]


def test_faces_smaller_than_the_minimum_are_skipped_and_counted(portrait):
    plain = restore_image(portrait, build_options(upscale=2, **FAST)).image.pixels
    res = restore_image(portrait, build_options(upscale=2, face="restoreformer", face_min_size=200, **FAST))
    assert res.metrics["faces"]["found"] == 1 and res.metrics["faces"]["skipped"] == 1
    assert res.metrics["faces"]["restored"] == 0 and np.array_equal(res.image.pixels, plain)


@pytest.mark.parametrize("upscale", [0, 2])
def test_the_stage_changes_only_the_face(portrait, upscale):
    plain = restore_image(portrait, build_options(upscale=upscale, **FAST)).image.pixels
    res = restore_image(portrait, build_options(upscale=upscale, face="restoreformer", **FAST))
    s = upscale or 1
    x, y, w, h = res.metrics["faces"]["boxes"][0]
    assert res.metrics["faces"]["restored"] == 1 and res.metrics["models"]["faces"] == "restoreformer"
    changed = np.argwhere(np.any(res.image.pixels != plain, axis=-1))
    assert changed.size  # the face was pasted
    cy, cx = (y + h / 2) * s, (x + w / 2) * s
    assert np.abs(changed[:, 0] - cy).max() < 1.6 * h * s and np.abs(changed[:, 1] - cx).max() < 1.6 * w * s
    assert len(res.report.faces.crops) == 1 and res.report.faces.crops[0][1].shape == (3, CROP, CROP)


def test_a_gray_photo_keeps_a_gray_face(portrait):
    gray = np.repeat(np.asarray(Image.fromarray(portrait).convert("L"))[..., None], 3, -1)
    res = restore_image(gray, build_options(upscale=0, face="restoreformer", **FAST))
    assert res.metrics["faces"]["restored"] == 1
    px = res.image.pixels
    assert px.ndim == 2 or np.abs(px[..., 0] - px[..., 1]).max() < 0.02  # the random network's colour is gone


def test_parsed_masks_come_from_the_face_parser(portrait):
    res = restore_image(portrait, build_options(upscale=0, face="restoreformer", face_mask="parse", **FAST))
    assert res.metrics["faces"]["restored"] == 1


def test_face_network_contracts_gfpgan_and_codeformer(full_face_models):
    """Each network gets what it expects: [-1, 1] in, [0, 1] out, GFPGAN's noise fixed, CodeFormer's
    fidelity through its ``weight`` keyword (spied on, so the test needs no full forward pass)."""
    crops = torch.rand(1, 3, CROP, CROP)
    for model_id, expect in (("gfpgan-v1.4", {"return_rgb": False, "randomize_noise": False}),
                             ("codeformer", {"weight": 0.8})):
        model = load_model(model_id, "cpu", "fp32")  # the contract, exactly (bf16 rounds the spy's output)
        seen = {}
        real = model.descriptor.model.forward

        def spy(x, seen=seen, **kw):
            seen.update(kw, lo=float(x.min()), hi=float(x.max()))
            return (x * 0.5, None)

        model.descriptor.model.forward = spy
        try:
            out = face_network(model, 0.8)(crops)
        finally:
            model.descriptor.model.forward = real
        assert seen["lo"] < -0.9 and seen["hi"] > 0.9, model_id  # 2x - 1
        assert {k: seen[k] for k in expect} == expect, model_id
        assert torch.allclose(out, (crops * 2 - 1) * 0.5 / 2 + 0.5, atol=1e-5) or model_id == "gfpgan-v1.4"


def test_gfpgan_restores_the_same_face_the_same_way_twice(full_face_models):
    model = load_model("gfpgan-v1.4", "cpu")
    net = face_network(model, None)
    crops = torch.rand(1, 3, CROP, CROP)
    a, b = net(crops), net(crops)
    assert torch.equal(a, b) and a.shape == (1, 3, CROP, CROP) and 0 <= float(a.min()) <= float(a.max()) <= 1


def test_codeformer_restores_a_photo_through_the_pipeline(full_face_models, portrait):
    res = restore_image(portrait, build_options(upscale=0, face="codeformer", face_fidelity=0.7, **FAST))
    assert res.metrics["faces"]["restored"] == 1 and res.metrics["models"]["faces"] == "codeformer"


def test_tracker_smooths_detector_jitter_and_follows_real_motion(portrait):
    face = detect_faces(portrait, YUNET)[0]
    rng = np.random.default_rng(0)
    tracker, raw, smooth = FaceTracker(), [], []
    for _ in range(30):
        jitter = face.landmarks + rng.normal(0, 1.0, face.landmarks.shape).astype(np.float32)
        out = tracker([type(face)(face.box, jitter, face.score)])[0]
        raw.append(jitter)
        smooth.append(out.landmarks)
        assert out.track == 0
    step = lambda seq: np.mean([np.abs(b - a).mean() for a, b in zip(seq, seq[1:])])  # noqa: E731
    assert step(smooth) < 0.6 * step(raw)
    moved = tracker([type(face)(face.box, face.landmarks + 20, face.score)])[0]
    assert np.allclose(moved.landmarks, face.landmarks + 20)  # a real move is followed at once


# ------------------------------------------------------------------------------------ bad input
def test_a_corrupt_face_model_or_detector_is_named(portrait, tmp_path, monkeypatch, tiny_models_dir):
    bad = tmp_path / "models"
    shutil.copytree(tiny_models_dir, bad, symlinks=True)
    (bad / "restoreformer.safetensors").write_bytes(b"\0" * 128)
    monkeypatch.setenv("RESTORATION_MODELS_DIR", str(bad))
    with pytest.raises(ModelLoadError, match=r"restoreformer\.safetensors could not be loaded"):
        restore_image(portrait, build_options(upscale=0, face="restoreformer", **FAST))
    (bad / YUNET.name).unlink()
    (bad / YUNET.name).write_bytes(b"not an onnx model")
    with pytest.raises(ModelLoadError, match=r"face_detection_yunet_2026may\.onnx could not be loaded as the YuNet"):
        restore_image(portrait, build_options(upscale=0, face="gfpgan-v1.4", **FAST))


def test_a_missing_face_model_says_how_to_get_it(portrait, tmp_path, monkeypatch, tiny_models_dir):
    from restoration import WeightsUnavailableError

    models = tmp_path / "models"
    shutil.copytree(tiny_models_dir, models, symlinks=True, ignore=shutil.ignore_patterns("gfpgan*", "codeformer*"))
    monkeypatch.setenv("RESTORATION_MODELS_DIR", str(models))
    with pytest.raises(WeightsUnavailableError, match=r"offline.*gfpgan-v1\.4 is not cached.*models download"):
        restore_image(portrait, build_options(upscale=0, face="gfpgan-v1.4", **FAST))


def test_models_of_the_wrong_kind_are_refused_with_where_they_go():
    with pytest.raises(OptionError, match="use it as model"):
        build_options(face="realesrgan-x4plus")
    with pytest.raises(OptionError, match="use it as face"):
        build_options(model="codeformer")


def test_face_report_counts_and_notes():
    r = FaceReport(found=3, restored=2, skipped=1, boxes=[[[1, 2, 3, 4]], [[5, 6, 7, 8]]])
    assert r.to_dict() == {"found": 3, "restored": 2, "skipped": 1, "boxes": [[1, 2, 3, 4], [5, 6, 7, 8]],
                           "note": "2 of 3 face(s) restored"}


# ------------------------------------------------------------------------------------ surfaces
def test_command_line_restores_faces(portrait, tmp_path, capsys):
    from restoration.cli import main

    src = tmp_path / "p.png"
    Image.fromarray(portrait).save(src)
    assert main(["image", str(src), "-o", str(tmp_path / "o.png"), "--upscale", "0", "--face", "restoreformer",
                 "--face-fidelity", "0.3", "--face-mask", "box", "--colorize", "off", "--json"]) == 0
    m = json.loads(capsys.readouterr().out)
    assert m["faces"]["restored"] == 1 and m["models"]["faces"] == "restoreformer"


def test_app_and_client_restore_faces_and_show_them(server, portrait, tmp_path):
    from client import RestorationClient

    src = tmp_path / "p.png"
    Image.fromarray(portrait).save(src)
    with RestorationClient(server, download_dir=tmp_path / "dl") as c:
        r = c.restore_image(src, preset="none", upscale=0, face="restoreformer", **{**FAST, "model": None})
        b = c.restore_batch([src], preset="none", upscale=0, face="restoreformer", colorize="off")
    assert r.metrics["faces"]["restored"] == 1 and len(r.faces) == 1
    before, after = r.faces[0]
    assert Image.open(before).size == (CROP, CROP) and Image.open(after).size == (CROP, CROP)
    assert [i["file"] for i in b.report["restored"]] == ["p.png"]


def test_video_tracks_faces_through_the_frames(portrait, tmp_path):
    import av

    from restoration import restore_video
    from restoration.video import VideoOptions

    src = tmp_path / "face.mp4"
    with av.open(str(src), "w") as c:
        s = c.add_stream("libx264", rate=12)
        s.width, s.height, s.pix_fmt = 128, 128, "yuv420p"
        small = np.asarray(Image.fromarray(portrait).resize((128, 128)))
        for i in range(6):
            frame = np.roll(small, i % 2, axis=1)  # a face that jitters by a pixel
            for p in s.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")):
                c.mux(p)
        for p in s.encode(None):
            c.mux(p)
    res = restore_video(src, tmp_path / "o.mkv", build_options(upscale=1, face="restoreformer", **FAST),
                        VideoOptions(codec="ffv1", batch=3))
    assert res.metrics["faces"]["found"] == 6 and res.metrics["faces"]["restored"] == 6
    assert res.metrics["faces"]["tracks"] == 1


@pytest.mark.parametrize("model_id", ["gfpgan-v1.4", "codeformer"])
def test_full_size_face_models_through_the_app_and_the_command_line(full_face_models, server, portrait, tmp_path,
                                                                    model_id, capsys):
    from client import RestorationClient
    from restoration.cli import main

    src = tmp_path / "p.png"
    Image.fromarray(portrait).save(src)
    with RestorationClient(server, download_dir=tmp_path / "dl") as c:
        r = c.restore_image(src, preset="none", upscale=0, face=model_id, colorize="off", denoise=0, sharpen=0)
    assert r.metrics["faces"]["restored"] == 1 and r.metrics["models"]["faces"] == model_id
    assert main(["image", str(src), "-o", str(tmp_path / "o.png"), "--upscale", "0", "--face", model_id,
                 "--colorize", "off", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["faces"]["restored"] == 1


def test_the_detector_in_the_fixtures_is_the_catalogue_file():
    """The committed detector is the real YuNet the catalogue pins, not a stand-in."""
    from restoration.catalog import get_spec
    from restoration.weights import sha256_file

    assert sha256_file(YUNET) == get_spec("yunet").sha256
