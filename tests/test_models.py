import os
import pickle
import threading

import pytest
import torch

from restoration import ModelLoadError, OptionError, models
from restoration.models import load_model, resolve_device


def test_loads_real_architectures_through_spandrel_and_caches_them():
    a = load_model("realesrgan-x4plus", "cpu")
    assert a.descriptor.architecture.id == "ESRGAN" and a.scale == 4
    from restoration.accel import cpu_bf16

    assert a.dtype == (torch.bfloat16 if cpu_bf16() else torch.float32) and a.weights.source == "local"
    assert load_model("realesrgan-x4plus", "cpu") is a
    out = a(torch.rand(1, 3, 8, 10))
    assert out.shape == (1, 3, 32, 40) and out.dtype == torch.float32
    assert 0 <= out.min() and out.max() <= 1
    x2 = load_model("realesrgan-x2plus", "cpu")  # saved as .pth: restricted unpickling path
    assert x2.scale == 2 and x2.weights.path.suffix == ".pth"
    assert load_model("realesr-general-x4v3").descriptor.architecture.id == "Compact"
    anime = load_model("realesrgan-x4plus-anime")
    assert anime.weights.path.name == "RealESRGAN_x4plus_anime_6B.pth"  # the spec's own filename


def test_concurrent_first_loads_load_once():
    models.clear_cache()
    got = []
    threads = [threading.Thread(target=lambda: got.append(load_model("realesr-animevideov3")))
               for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(m) for m in got}) == 1


def test_device_and_precision_rules():
    assert resolve_device("cpu").type == "cpu"
    if not torch.cuda.is_available():
        assert resolve_device("auto").type == "cpu"
        with pytest.raises(OptionError, match="no CUDA GPU is available"):
            resolve_device("cuda")
    spec = models.get_spec("ddcolor")
    assert models.resolve_dtype(spec, torch.device("cpu"), "fp16") == torch.float32
    with pytest.raises(OptionError, match="fp16.*not supported by ddcolor"):
        models.resolve_dtype(spec, torch.device("cuda"), "fp16")
    assert models.resolve_dtype(spec, torch.device("cuda"), "bf16") == torch.bfloat16


def test_wrong_architecture_is_refused(tmp_path, monkeypatch, tiny_models_dir):
    monkeypatch.setenv("RESTORATION_MODELS_DIR", str(tmp_path))
    os.symlink(tiny_models_dir / "realesr-general-x4v3.safetensors", tmp_path / "realesrgan-x4plus.safetensors")
    with pytest.raises(ModelLoadError, match="holds a Compact x4 network, but realesrgan-x4plus needs ESRGAN x4"):
        load_model("realesrgan-x4plus")


def test_garbage_file_is_refused_with_advice(tmp_path, monkeypatch):
    monkeypatch.setenv("RESTORATION_MODELS_DIR", str(tmp_path))
    (tmp_path / "realesrgan-x4plus.pth").write_bytes(os.urandom(2048))
    with pytest.raises(ModelLoadError, match="could not be loaded as realesrgan-x4plus"):
        load_model("realesrgan-x4plus")


class _Evil:
    def __reduce__(self):
        return (os.system, ("touch pwned-by-pickle",))


def test_pickled_code_is_never_executed(tmp_path, monkeypatch):
    monkeypatch.setenv("RESTORATION_MODELS_DIR", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    with open(tmp_path / "realesrgan-x4plus.pth", "wb") as f:
        pickle.dump({"params": _Evil()}, f)
    with pytest.raises(ModelLoadError):
        load_model("realesrgan-x4plus")
    assert not (tmp_path / "pwned-by-pickle").exists()
