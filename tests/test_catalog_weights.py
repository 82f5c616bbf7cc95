import hashlib
from pathlib import Path

import pytest

from restoration import (
    ChecksumMismatchError,
    ModelSpec,
    UnknownModelError,
    WeightsUnavailableError,
    catalog,
    list_models,
    register,
    weights,
)

REQUIRED = {
    "realesrgan-x4plus", "realesrgan-x2plus", "realesr-general-x4v3", "realesrgan-x4plus-anime",
    "realesr-animevideov3", "ddcolor", "ddcolor-artistic", "ddcolor-tiny",
}


def test_catalogue_has_the_required_models_with_sources():
    specs = {s.id: s for s in list_models()}
    assert REQUIRED <= set(specs)
    x4 = specs["realesrgan-x4plus"]
    assert (x4.hub_repo, x4.filename) == ("lllyasviel/Annotators", "RealESRGAN_x4plus.pth")
    assert x4.sha256 == "4fa0d38905f75ac06eb49a7951b426670021be3018265fd191d2125df9d682f1"
    assert specs["ddcolor"].filename == "ddcolor_modelscope.pth"
    assert specs["ddcolor"].supports_half is False  # DDColor is bf16-only in spandrel
    for s in specs.values():
        assert s.license and s.source and s.hub_repo
    assert [s.id for s in list_models("colorization")] == ["ddcolor", "ddcolor-artistic", "ddcolor-tiny"]


def test_registering_an_id_twice_is_an_error():
    with pytest.raises(ValueError, match="already registered"):
        register(catalog.get_spec("ddcolor"))


def test_unknown_model_lists_the_known_ones():
    with pytest.raises(UnknownModelError) as e:
        weights.resolve("x9000")
    assert "unknown model 'x9000'; known models: codeformer, ddcolor" in str(e.value)
    assert isinstance(e.value, KeyError)


# --- the Hub path, up to the network boundary -------------------------------------------------
PAYLOAD = b"pretend these are weights"
REV = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture()
def hub_spec(monkeypatch):
    spec = ModelSpec(
        id="test-hub-model", task="super-resolution", architecture="Compact", scale=4,
        hub_repo="someone/some-repo", filename="weights.pth", revision=REV,
        sha256=hashlib.sha256(PAYLOAD).hexdigest(), license="MIT", supports_half=True,
        supports_bf16=True, source="test", description="test",
    )
    monkeypatch.setitem(catalog._registry, spec.id, spec)
    return spec


def _fill_cache(content: bytes) -> Path:
    """Lay out a Hugging Face cache entry the way huggingface_hub itself does."""
    repo = weights.hub_cache_dir() / "models--someone--some-repo"
    blob = repo / "blobs" / hashlib.sha256(content).hexdigest()
    blob.parent.mkdir(parents=True)
    blob.write_bytes(content)
    snap = repo / "snapshots" / REV / "weights.pth"
    snap.parent.mkdir(parents=True)
    snap.symlink_to(blob)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(REV)
    return snap


def test_local_folder_wins_and_accepts_three_names(tmp_path, monkeypatch, hub_spec):
    monkeypatch.setenv("RESTORATION_MODELS_DIR", str(tmp_path / "m"))
    (tmp_path / "m").mkdir()
    _fill_cache(PAYLOAD)
    assert weights.resolve(hub_spec.id).source == "cache"
    for name in ("weights.pth", "test-hub-model.pth", "test-hub-model.safetensors"):
        (tmp_path / "m" / name).write_bytes(b"local")
        got = weights.resolve(hub_spec.id)
        assert (got.source, got.path.name) == ("local", name)


def test_prefilled_cache_is_used_offline_and_verified(hub_spec):
    snap = _fill_cache(PAYLOAD)
    got = weights.resolve(hub_spec.id)
    assert got.source == "cache" and got.path == snap


def test_corrupt_cache_offline_names_file_and_both_hashes(hub_spec):
    _fill_cache(b"corrupted bytes")
    with pytest.raises(ChecksumMismatchError) as e:
        weights.resolve(hub_spec.id)
    msg = str(e.value)
    assert "weights.pth" in msg and hub_spec.sha256 in msg
    assert hashlib.sha256(b"corrupted bytes").hexdigest() in msg


def test_offline_and_not_cached_says_what_to_do(hub_spec):
    with pytest.raises(WeightsUnavailableError) as e:
        weights.resolve(hub_spec.id)
    msg = str(e.value)
    assert "offline" in msg and "python -m restoration models download test-hub-model" in msg
    assert "RESTORATION_MODELS_DIR" in msg
    assert isinstance(e.value, FileNotFoundError)


def _fake_download(content: bytes, calls: list):
    def fake(repo_id, filename, *, revision, cache_dir, token, force_download):
        calls.append((repo_id, filename, revision, token, force_download))
        blob = Path(cache_dir) / "fake-blob"
        blob.parent.mkdir(parents=True, exist_ok=True)
        blob.write_bytes(content)
        return str(blob)

    return fake


def test_download_is_checked_and_a_mismatch_is_deleted(monkeypatch, hub_spec):
    import huggingface_hub

    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setenv("HF_TOKEN", "hf_secret")
    calls: list = []
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", _fake_download(b"tampered", calls))
    with pytest.raises(ChecksumMismatchError) as e:
        weights.resolve(hub_spec.id)
    assert calls == [("someone/some-repo", "weights.pth", REV, "hf_secret", False)]
    assert hashlib.sha256(b"tampered").hexdigest() in str(e.value)
    assert not (weights.hub_cache_dir() / "fake-blob").exists()

    calls.clear()
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", _fake_download(PAYLOAD, calls))
    assert weights.resolve(hub_spec.id).source == "download"


def test_corrupt_cache_online_is_downloaded_again(monkeypatch, hub_spec):
    import huggingface_hub

    _fill_cache(b"bit rot")
    monkeypatch.delenv("HF_HUB_OFFLINE")
    calls: list = []
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", _fake_download(PAYLOAD, calls))
    got = weights.resolve(hub_spec.id)
    assert got.source == "download" and calls[0][-1] is True  # force_download


def test_unreachable_hub_gives_the_offline_advice(monkeypatch, hub_spec):
    import huggingface_hub
    from huggingface_hub.errors import LocalEntryNotFoundError

    def boom(*a, **k):
        raise LocalEntryNotFoundError("connection refused")

    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", boom)
    with pytest.raises(WeightsUnavailableError, match="cannot reach the Hugging Face Hub"):
        weights.resolve(hub_spec.id)


def test_unpinned_model_records_its_hash_on_first_download(monkeypatch, hub_spec):
    import huggingface_hub

    spec = ModelSpec(**{**hub_spec.to_dict(), "id": "test-tofu", "sha256": None})
    monkeypatch.setitem(catalog._registry, spec.id, spec)
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", _fake_download(PAYLOAD, []))
    weights.resolve("test-tofu")
    assert weights._read_records()["test-tofu"] == hashlib.sha256(PAYLOAD).hexdigest()
    # The same (unpinned) file later changes in the cache: it is refused offline.
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    _fill_cache(b"swapped later")
    with pytest.raises(ChecksumMismatchError):
        weights.resolve("test-tofu")


def _zip(members: dict[str, bytes]) -> bytes:
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


def test_a_member_of_a_hub_archive_is_unpacked_once_and_nothing_else_is_read(monkeypatch, hub_spec, tmp_path):
    """RIFE's Hub copies are the authors' zipped train_log: the archive is downloaded and checked, then only
    the member is unpacked (its Python files never), once; a later resolve reuses it."""
    import huggingface_hub

    archive = _zip({"train_log/flownet.pkl": PAYLOAD, "train_log/IFNet_HDv3.py": b"import os"})
    spec = ModelSpec(**{**hub_spec.to_dict(), "id": "test-zip", "filename": "RIFE.zip", "sha256": None,
                        "member": "train_log/flownet.pkl", "task": "interpolation"})
    monkeypatch.setitem(catalog._registry, spec.id, spec)
    monkeypatch.setenv("RESTORATION_MODELS_DIR", str(tmp_path))  # nothing local: the Hub's archive
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", _fake_download(archive, []))
    got = weights.resolve("test-zip")
    assert got.path.name == "flownet.pkl" and got.path.read_bytes() == PAYLOAD
    assert weights._read_records()["test-zip"] == hashlib.sha256(archive).hexdigest()  # the archive's hash
    assert sorted(p.name for p in got.path.parent.iterdir()) == ["flownet.pkl", "flownet.pkl.from"]
    stamp = got.path.stat().st_mtime_ns
    blob = weights.hub_cache_dir() / "fake-blob"  # the archive as the (faked) download left it
    assert weights.unpacked(spec, blob) == got.path and got.path.stat().st_mtime_ns == stamp  # not again
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", _fake_download(_zip({"other.bin": b"x"}), []))
    other = ModelSpec(**{**spec.to_dict(), "id": "test-zip-2"})
    monkeypatch.setitem(catalog._registry, other.id, other)
    with pytest.raises(WeightsUnavailableError, match="holds no train_log/flownet.pkl"):
        weights.resolve("test-zip-2")


def test_rife_offline_says_which_file_to_put_where(monkeypatch, tmp_path):
    monkeypatch.setenv("RESTORATION_MODELS_DIR", str(tmp_path))
    with pytest.raises(WeightsUnavailableError, match=r"flownet.pkl \(or rife-4.26.pkl\) in \$RESTORATION_MODELS_DIR"):
        weights.resolve("rife-4.26")
    (tmp_path / "flownet.pkl").write_bytes(b"local")
    assert weights.resolve("rife-4.26").path == tmp_path / "flownet.pkl"
