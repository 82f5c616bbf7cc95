"""The speed settings: torch.compile wiring and fallback, cuDNN autotuning switch.

The compile tests run Dynamo for real but with its ``eager`` backend (no code generation, so seconds
instead of the ~25 s Inductor needs for its first kernel on 2 cores); one test runs Inductor itself
where a C compiler exists.
"""

from __future__ import annotations

import logging
import shutil

import pytest
import torch

from restoration import accel
from restoration.models import clear_cache, load_model


@pytest.fixture(autouse=True)
def _fresh_models():
    clear_cache()
    yield
    clear_cache()


@pytest.fixture
def dynamo_eager(monkeypatch, tmp_path):
    """torch.compile as the library calls it, but through Dynamo's eager backend."""
    calls = []
    real = torch.compile

    def fake(module, backend="inductor", **kw):
        calls.append(backend)
        return real(module, backend="eager", **kw)

    monkeypatch.setattr(accel.torch, "compile", fake)
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path / "inductor"))
    torch._dynamo.reset()
    yield calls
    torch._dynamo.reset()


def test_compile_is_off_unless_asked(monkeypatch, dynamo_eager):
    monkeypatch.delenv("RESTORATION_COMPILE", raising=False)
    assert not load_model("realesr-general-x4v3", "cpu").compiled
    monkeypatch.setenv("RESTORATION_COMPILE", "1")
    assert accel.compile_requested()
    assert load_model("realesr-general-x4v3", "cpu").compiled  # the environment reaches load_model
    monkeypatch.setenv("RESTORATION_COMPILE", "no")
    assert not accel.compile_requested()
    assert not load_model("realesr-general-x4v3", "cpu").compiled


def test_compiled_network_gives_the_eager_result_for_every_shape(dynamo_eager):
    eager = load_model("realesr-general-x4v3", "cpu", compile=False)
    fast = load_model("realesr-general-x4v3", "cpu", compile=True)
    assert fast is not eager and fast.compiled and dynamo_eager == ["inductor"]
    for shape in [(1, 3, 20, 28), (2, 3, 20, 28), (1, 3, 33, 17)]:  # a new batch and a new size
        x = torch.rand(shape)
        assert torch.allclose(fast(x), eager(x), atol=1e-6)
    assert fast.net.first_call_seconds is not None and fast.net.first_call_seconds > 0
    # x2plus needs even sizes: the padding around the compiled network is the library's own.
    x2 = load_model("realesrgan-x2plus", "cpu", compile=True)
    x = torch.rand(1, 3, 15, 21)
    out = x2(x)
    assert out.shape == (1, 3, 30, 42)
    assert torch.allclose(out, load_model("realesrgan-x2plus", "cpu", compile=False)(x), atol=1e-6)


def test_the_colorizer_is_never_compiled(dynamo_eager):
    assert not load_model("ddcolor-tiny", "cpu", compile=True).compiled
    assert dynamo_eager == []


def _compiled_raising(monkeypatch, error: BaseException):
    """A compiled model whose compiled code raises ``error`` at every call."""
    def compile_(module, **kw):
        def run(x):
            raise error
        return run

    monkeypatch.setattr(accel.torch, "compile", compile_)
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", "/nonexistent-not-used")
    return load_model("realesr-general-x4v3", "cpu", compile=True)


def test_a_failing_compile_falls_back_to_eager_with_a_warning(monkeypatch, caplog):
    fast = _compiled_raising(monkeypatch, RuntimeError("InductorError: no working C++ compiler"))
    x = torch.rand(1, 3, 16, 16)
    with caplog.at_level(logging.WARNING, logger="restoration.accel"):
        out = fast(x)
    assert torch.allclose(out, load_model("realesr-general-x4v3", "cpu", compile=False)(x))
    assert not fast.compiled
    assert "torch.compile failed for realesr-general-x4v3" in caplog.text
    assert "no working C++ compiler" in caplog.text
    fast(x)  # afterwards it stays eager: no second warning
    assert caplog.text.count("torch.compile failed") == 1


def test_out_of_memory_inside_a_compiled_network_reaches_the_tiler(monkeypatch):
    fast = _compiled_raising(monkeypatch, torch.OutOfMemoryError("CUDA out of memory (injected)"))
    with pytest.raises(torch.OutOfMemoryError):
        fast(torch.rand(1, 3, 16, 16))
    assert fast.compiled  # not mistaken for a compile failure


def test_the_compile_cache_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("RESTORATION_COMPILE_CACHE", str(tmp_path / "kernels"))
    assert accel.compile_cache_dir() == tmp_path / "kernels"
    monkeypatch.delenv("RESTORATION_COMPILE_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert accel.compile_cache_dir() == tmp_path / "xdg" / "restoration" / "torch-compile"
    # Inductor is pointed at it unless TORCHINDUCTOR_CACHE_DIR already says where.
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", "placeholder")
    monkeypatch.delenv("TORCHINDUCTOR_CACHE_DIR")
    monkeypatch.setattr(accel.torch, "compile", lambda module, **kw: module)
    accel.CompiledNet(torch.nn.Identity(), "identity")
    assert (tmp_path / "xdg" / "restoration" / "torch-compile").is_dir()
    import os

    assert os.environ["TORCHINDUCTOR_CACHE_DIR"] == str(tmp_path / "xdg" / "restoration" / "torch-compile")


def test_cudnn_autotuning_follows_the_environment(monkeypatch):
    before = torch.backends.cudnn.benchmark
    try:
        monkeypatch.delenv("RESTORATION_CUDNN_BENCHMARK", raising=False)
        accel.configure_cuda()
        assert torch.backends.cudnn.benchmark is True
        monkeypatch.setenv("RESTORATION_CUDNN_BENCHMARK", "0")
        accel.configure_cuda()
        assert torch.backends.cudnn.benchmark is False
    finally:
        torch.backends.cudnn.benchmark = before


@pytest.mark.skipif(not (shutil.which("cc") or shutil.which("gcc")), reason="Inductor needs a C compiler")
def test_inductor_compiles_a_real_network_on_the_cpu(monkeypatch, tmp_path):
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path / "inductor"))
    torch._dynamo.reset()
    try:
        try:  # the machine's toolchain first (compiler, Python headers), apart from the library
            torch.compile(lambda t: t * 2 + 1)(torch.ones(4))
        except Exception as e:  # noqa: BLE001
            pytest.skip(f"Inductor cannot build kernels on this machine: {type(e).__name__}: {e}")
        torch._dynamo.reset()
        fast = load_model("realesr-animevideov3", "cpu", compile=True)
        x = torch.rand(1, 3, 24, 32)
        out = fast(x)
        assert fast.compiled, "Inductor failed and the library fell back to eager"
        assert torch.allclose(out, load_model("realesr-animevideov3", "cpu", compile=False)(x), atol=1e-5)
        assert any((tmp_path / "inductor").rglob("*")), "nothing was written to the compile cache"
    finally:
        torch._dynamo.reset()


def _overflowing_fp16_copy(model):
    """The same function as ``model`` (a Compact network), with activations 1e5 times larger after the
    first convolution and scaled back by the second: exact in fp32, inf in fp16 (max 65504)."""
    import copy

    from restoration.models import LoadedModel

    desc = copy.deepcopy(model.descriptor)
    body = desc.model.body
    with torch.no_grad():
        body[0].weight.mul_(1e5)
        body[0].bias.mul_(1e5)
        body[2].weight.mul_(1e-5)  # PReLU between them is positively homogeneous
    desc.model.half()
    return LoadedModel(model.spec, desc, model.device, torch.float16, model.weights)


def test_fp16_overflow_is_run_again_in_a_wider_type_and_stays_there(caplog):
    plain = load_model("realesr-general-x4v3", "cpu", "fp32")
    x = torch.rand(2, 3, 16, 20)
    expected = plain(x)
    m = _overflowing_fp16_copy(plain)
    with torch.inference_mode():  # the fault is real: fp16 alone gives inf/NaN
        raw = m.descriptor.model(x.half())
    assert not torch.isfinite(raw).all()
    with caplog.at_level(logging.WARNING, logger="restoration.models"):
        out = m(x)
        again = m(x)
    assert torch.isfinite(out).all() and out.dtype == torch.float32
    assert torch.allclose(out, expected, atol=1e-3) and torch.equal(out, again)
    assert m.dtype == torch.float32  # no bf16 off CUDA: fp32
    assert caplog.text.count("overflowed in fp16") == 1
    assert "realesr-general-x4v3 overflowed in fp16 (inf or NaN in its output); running it in float32" in caplog.text
