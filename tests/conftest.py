"""Shared fixtures: tiny random-weight real architectures in a temporary models folder, no network.

Every network here is a genuine spandrel architecture (RRDBNet/ESRGAN, SRVGGNetCompact, DDColor) in a
small configuration that spandrel still detects, saved the way users save weights (safetensors and a
.pth), and loaded through the library's real code path.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import numpy as np
import pytest
import torch

# Trained weights beside the checkout (../shared/weights) only add checks; nothing may need them.
# RESTORATION_TESTS_NO_SHARED=1 hides them, as on a newcomer's clone (.ci/run runs the suite so too).
SHARED_WEIGHTS = (Path(__file__).resolve().parent / "no-shared-weights"
                  if os.environ.get("RESTORATION_TESTS_NO_SHARED") == "1"
                  else Path(__file__).resolve().parents[2] / "shared" / "weights")
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def _save(module: torch.nn.Module, path: Path, half: bool = False) -> None:
    sd = {k: (v.half() if half and v.is_floating_point() else v).contiguous()
          for k, v in module.state_dict().items()}
    if path.suffix == ".safetensors":
        from safetensors.torch import save_file

        save_file(sd, str(path))
    else:
        torch.save(sd, path)


def make_esrgan(scale: int, seed: int = 0) -> torch.nn.Module:
    """RRDBNet; x2 is built like RealESRGAN_x2plus: pixel-unshuffle by 2, then x4 upsampling."""
    from spandrel.architectures.ESRGAN import ESRGAN

    torch.manual_seed(seed)
    if scale == 2:
        return ESRGAN(in_nc=12, out_nc=3, num_filters=8, num_blocks=1, scale=4, shuffle_factor=2)
    return ESRGAN(in_nc=3, out_nc=3, num_filters=8, num_blocks=1, scale=scale)


def make_compact(scale: int = 4, seed: int = 0) -> torch.nn.Module:
    from spandrel.architectures.Compact import Compact

    torch.manual_seed(seed)
    return Compact(num_in_ch=3, num_out_ch=3, num_feat=8, num_conv=2, upscale=scale)


def make_ddcolor(seed: int = 0) -> torch.nn.Module:
    """A small DDColor (ConvNeXt-T encoder, one decoder layer) that predicts a sane, fixed-ish chroma.

    Random DDColor weights give chroma around 1e11; zeroing the decoder's last weight-normalised
    layer and biasing the head makes the output ab about (20, -15) plus an image-dependent part.
    """
    from spandrel_extra_arches.architectures.DDColor import DDColor

    torch.manual_seed(seed)
    m = DDColor(
        encoder_name="convnext-t", decoder_name="MultiScaleColorDecoder", input_size=(64, 64),
        nf=512, num_output_channels=2, last_norm="Weight", num_queries=8, num_scales=3,
        dec_layers=1,
    )
    with torch.no_grad():
        for name, p in m.named_parameters():
            if name.startswith("decoder.last_shuf") and not name.endswith("weight_v"):
                p.zero_()
        m.refine_net[0][0].bias.copy_(torch.tensor([20.0, -15.0]))
    return m


def make_restoreformer(seed: int = 0) -> torch.nn.Module:
    """A small RestoreFormer (32 channels, the fewest GroupNorm allows) that spandrel detects."""
    from spandrel.architectures.RestoreFormer import RestoreFormer

    torch.manual_seed(seed)
    return RestoreFormer(n_embed=32, embed_dim=32, ch=32, out_ch=3, ch_mult=(1, 1, 1, 1, 1, 1), num_res_blocks=1,
                         attn_resolutions=(16,), dropout=0.0, in_channels=3, resolution=512, z_channels=32,
                         double_z=False, enable_mid=True, head_size=8)


def make_gfpgan(seed: int = 0) -> torch.nn.Module:
    """GFPGAN v1 (clean) at full size: spandrel builds it with fixed settings, so no smaller one loads."""
    from spandrel.architectures.GFPGAN import GFPGAN

    torch.manual_seed(seed)
    return GFPGAN(out_size=512, num_style_feat=512, channel_multiplier=2, decoder_load_path=None, fix_decoder=False,
                  num_mlp=8, input_is_latent=True, different_w=True, narrow=1, sft_half=True)


def make_codeformer(seed: int = 0) -> torch.nn.Module:
    """CodeFormer with a 2-layer transformer (spandrel reads the layer count from the weights)."""
    from spandrel_extra_arches.architectures.CodeFormer import CodeFormer

    torch.manual_seed(seed)
    return CodeFormer(dim_embd=512, n_head=8, n_layers=2, codebook_size=1024, latent_size=256,
                      connect_list=["32", "64", "128", "256"], fix_modules=["quantize", "generator"])


def make_face_parser(folder: Path, seed: int = 0) -> None:
    """A tiny random SegFormer with the 19 CelebAMask-HQ labels, saved as transformers saves one."""
    from transformers import SegformerConfig, SegformerForSemanticSegmentation

    torch.manual_seed(seed)
    cfg = SegformerConfig(num_labels=19, hidden_sizes=[8, 16, 32, 64], depths=[1, 1, 1, 1],
                          num_attention_heads=[1, 1, 2, 2], decoder_hidden_size=16)
    SegformerForSemanticSegmentation(cfg).save_pretrained(str(folder))


def make_drunet(seed: int = 0) -> torch.nn.Module:
    """A small DRUNet (RGB + noise-level plane in, RGB out)."""
    from spandrel.architectures.DRUNet import DRUNet

    torch.manual_seed(seed)
    return DRUNet(in_nc=4, out_nc=3, nc=[8, 16, 32, 64], nb=2)


def make_scunet(seed: int = 0) -> torch.nn.Module:
    """SCUNet with one block per stage (its 64 channels and 32-channel heads are what it needs)."""
    from spandrel.architectures.SCUNet import SCUNet

    torch.manual_seed(seed)
    return SCUNet(in_nc=3, config=[1] * 7, dim=64)


# OpenCV's YuNet detector (MIT, 230 kB; tests/fixtures/LICENSE-yunet.txt): the real one, in the repository.
YUNET = FIXTURES / "face_detection_yunet_2026may.onnx"


@pytest.fixture(scope="session")
def tiny_models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("models")
    _save(make_esrgan(4), d / "realesrgan-x4plus.safetensors")
    _save(make_esrgan(2), d / "realesrgan-x2plus.pth")
    _save(make_compact(4), d / "realesr-general-x4v3.safetensors")
    _save(make_esrgan(4, seed=1), d / "RealESRGAN_x4plus_anime_6B.pth")  # the spec's own filename
    _save(make_compact(4, seed=2), d / "realesr-animevideov3.safetensors")
    _save(make_ddcolor(), d / "ddcolor-tiny.safetensors", half=True)
    os.symlink(d / "ddcolor-tiny.safetensors", d / "ddcolor.safetensors")
    _save(make_restoreformer(), d / "restoreformer.safetensors")
    _save(make_drunet(), d / "drunet-color.safetensors")
    _save(make_scunet(), d / "scunet-real.safetensors")
    make_face_parser(d / "face-parsing")
    _save_rife(d / "flownet.pkl")  # rife-4.26, by the name inside its Hub archive
    os.symlink(YUNET, d / YUNET.name)  # the real detector
    # GFPGAN at full size (spandrel loads no smaller one; 174 MB in fp16, 3 s): the old-photo preset's
    # face model, which every job of that preset needs before it starts, faces or not.
    _save(make_gfpgan(), d / "gfpgan-v1.4.safetensors", half=True)
    return d


def _save_rife(path: Path) -> None:
    """A random-weight RIFE 4.26 as training leaves it (``module.`` prefix)."""
    from restoration.interpolation.ifnet import IFNet

    torch.manual_seed(5)
    torch.save({f"module.{k}": v for k, v in IFNet().state_dict().items()}, path)


@pytest.fixture(scope="session")
def full_face_models(tiny_models_dir: Path) -> Path:
    """Random-weight CodeFormer beside the tiny models and GFPGAN (about 180 MB in fp16): only the
    tests that need it ask for it."""
    _save(make_codeformer(), tiny_models_dir / "codeformer.safetensors", half=True)
    return tiny_models_dir


from restoration import weights  # noqa: E402

REAL_HUB_REACHABLE = weights.hub_reachable  # the probe itself, for the test that checks it


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, tiny_models_dir: Path) -> None:
    """No test reaches the network or the user's caches. The Hub counts as reachable exactly when a test
    turns ``HF_HUB_OFFLINE`` off (it then stands in for the Hub's download functions itself)."""
    monkeypatch.setattr(weights, "hub_reachable", lambda timeout=3.0: not weights.is_offline())
    monkeypatch.setenv("RESTORATION_MODELS_DIR", str(tiny_models_dir))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("RESTORATION_MAX_PIXELS", raising=False)


@pytest.fixture()
def photo() -> np.ndarray:
    """A 48x64 colour test picture (uint8 RGB) with edges, gradients and flat areas."""
    h, w = 48, 64
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.zeros((h, w, 3), np.float32)
    img[..., 0] = xx / w
    img[..., 1] = yy / h
    img[..., 2] = ((xx // 8 + yy // 8) % 2) * 0.8 + 0.1
    img[12:36, 20:44] = [0.9, 0.2, 0.1]
    return (img * 255).astype(np.uint8)


@pytest.fixture()
def gray_photo(photo: np.ndarray) -> np.ndarray:
    return (photo.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)).astype(np.uint8)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tiny_models_dir: Path):
    """The real app on a loopback port (tiny random models), for the app, client and browser tests."""
    import app

    demo = app.build_app()
    port = _free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True,
                max_file_size="5mb")
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        demo.close()
