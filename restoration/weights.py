"""The one door to weight files: a local models folder, the Hugging Face Hub cache, a Hub download.

Resolution order for a model id:
1. ``$RESTORATION_MODELS_DIR``: a file named ``<id>.safetensors``, ``<id>.pth`` or the spec's own
   filename is used as it is (it is the user's own file, so no checksum is imposed on it).
2. The Hub cache (``$HF_HUB_CACHE``, else ``$HF_HOME/hub``, else ``~/.cache/huggingface/hub``) at the
   spec's pinned revision, checked against the pinned sha256.
3. A Hub download (unless ``HF_HUB_OFFLINE`` is set), with ``HF_TOKEN`` when present, checked the same
   way. A cached file with a wrong checksum is downloaded again once; a download with a wrong checksum
   is deleted and reported with both hashes.

Models without a published checksum get theirs recorded on the first verified download (trust on first
use) in ``restoration-sha256.json`` inside the Hub cache; later loads are checked against it.

The environment is read at each call, so a process (or a test) can change it between calls.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import threading
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from . import config
from .catalog import ModelSpec, get_spec
from .errors import ChecksumMismatchError, WeightsUnavailableError

log = logging.getLogger(__name__)

Source = Literal["local", "cache", "download"]
_RECORD_NAME = "restoration-sha256.json"
_lock = threading.Lock()
_hash_memo: dict[tuple[str, int, int], str] = {}


@dataclass(frozen=True)
class ResolvedWeights:
    model_id: str
    path: Path
    source: Source


def models_dir() -> Path | None:
    """``RESTORATION_MODELS_DIR``, or None when unset."""
    return config.get("RESTORATION_MODELS_DIR")


def hub_cache_dir() -> Path:
    """``HF_HUB_CACHE``, else ``HF_HOME/hub``, else ``~/.cache/huggingface/hub``."""
    if config.get("HF_HUB_CACHE"):
        return config.get("HF_HUB_CACHE")
    if config.get("HF_HOME"):
        return config.get("HF_HOME") / "hub"
    return config.cache_home() / "huggingface" / "hub"


def is_offline() -> bool:
    return bool(config.get("HF_HUB_OFFLINE"))


_REACH_TTL_S = 300.0  # how long the answer of ``hub_reachable`` is kept
_reach: dict[str, tuple[float, bool]] = {}


def hub_reachable(timeout: float = 3.0) -> bool:
    """Whether the Hugging Face Hub answers from here now (a TCP connection to its host, tried at most
    every few minutes): a machine without internet whose ``HF_HUB_OFFLINE`` is not set must not offer
    downloads it cannot make, nor make a job wait for one. False when offline."""
    import socket
    from urllib.parse import urlsplit

    if is_offline():
        return False
    endpoint = os.environ.get("HF_ENDPOINT") or "https://huggingface.co"
    parts = urlsplit(endpoint)
    host, port = parts.hostname or "huggingface.co", parts.port or (443 if parts.scheme != "http" else 80)
    now = time.monotonic()
    with _lock:
        known = _reach.get(endpoint)
    if known is not None and now - known[0] < _REACH_TTL_S:
        return known[1]
    try:
        socket.create_connection((host, port), timeout=timeout).close()
        ok = True
    except OSError:
        ok = False
    with _lock:
        _reach[endpoint] = (now, ok)
    return ok


def sha256_file(path: Path) -> str:
    """sha256 of ``path``, remembered per (path, size, mtime) for the life of the process."""
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    with _lock:
        if key in _hash_memo:
            return _hash_memo[key]
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    digest = h.hexdigest()
    with _lock:
        _hash_memo[key] = digest
    return digest


def local_candidates(spec: ModelSpec) -> list[Path]:
    """Where in ``$RESTORATION_MODELS_DIR`` a file for ``spec`` may lie, in the order tried."""
    root = models_dir()
    if root is None or spec.id.startswith("hf:"):
        return []
    base = Path(spec.member or spec.filename).name
    if spec.companions:  # a folder of files (weights and config): <id>/ or the upstream layout
        return [root / spec.id / base]
    names = [f"{spec.id}.safetensors", f"{spec.id}.pth", f"{spec.id}{Path(base).suffix}", base]
    return [root / n for n in dict.fromkeys(names)]


def _hint(spec: ModelSpec) -> str:
    if spec.id.startswith("hf:"):
        return (f"run `python -m restoration models download {spec.id}` on a connected machine, or download "
                "the file yourself and give its path instead")
    if spec.companions:
        where = f"{', '.join((Path(spec.filename).name, *spec.companions))} in $RESTORATION_MODELS_DIR/{spec.id}/"
    else:
        own = Path(spec.member or spec.filename)
        where = f"{own.name} (or {spec.id}{own.suffix if spec.member else '.safetensors'}) in $RESTORATION_MODELS_DIR"
    return f"run `python -m restoration models download {spec.id}` on a connected machine, or put {where}"


def _expected_hash(spec: ModelSpec) -> str | None:
    return spec.sha256 or _read_records().get(spec.id)


def _record_path() -> Path:
    return hub_cache_dir() / _RECORD_NAME


def _read_records() -> dict[str, str]:
    try:
        return json.loads(_record_path().read_text())
    except (OSError, ValueError):
        return {}


def _record_hash(spec: ModelSpec, digest: str) -> None:
    with _lock:
        records = _read_records()
        records[spec.id] = digest
        path = _record_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(records, indent=1, sort_keys=True))
        os.replace(tmp, path)


def _check(spec: ModelSpec, path: Path) -> str | None:
    """None when ``path`` matches the expected hash (or none is known), else its actual hash."""
    expected = _expected_hash(spec)
    if expected is None:
        return None
    actual = sha256_file(path)
    return None if actual == expected else actual


def cached_path(spec: ModelSpec) -> Path | None:
    """The file in the Hub cache at the pinned revision, or None. Never touches the network."""
    if not spec.hub_repo:
        return None
    from huggingface_hub import try_to_load_from_cache

    found = [try_to_load_from_cache(spec.hub_repo, name, cache_dir=hub_cache_dir(), revision=spec.revision or "main")
             for name in (spec.filename, *spec.companions)]
    if not all(isinstance(f, str) and Path(f).is_file() for f in found):
        return None
    return Path(found[0])


def _spec_of(model_id: str) -> ModelSpec:
    """The catalogue's spec, or for ``hf:owner/repo/file[@rev]`` one that says where the file is."""
    if not model_id.startswith("hf:"):
        return get_spec(model_id)
    from .refs import parse_ref

    ref = parse_ref(model_id)
    return ModelSpec(id=ref.text, task="super-resolution", architecture="?", scale=1, hub_repo=ref.repo,
                     filename=ref.filename, revision=ref.revision, sha256=None, license="unknown",
                     supports_half=False, supports_bf16=False, source=f"the Hub: {ref.repo}",
                     description="a model file from the Hub")


def _local_file(spec: ModelSpec) -> Path | None:
    """The spec's file in ``$RESTORATION_MODELS_DIR`` (with its companions), or None."""
    for cand in local_candidates(spec):
        if cand.is_file() and cand.stat().st_size > 0 and all((cand.parent / c).is_file() for c in spec.companions):
            return cand
    return None


Availability = Literal["local", "cache", "download", "unavailable"]


def availability(model_id: str) -> Availability:
    """Where the weights of the catalogue model ``model_id`` would come from now, without touching the
    network or reading whole files: the local folder, the Hub cache, a download on first use, or
    nowhere (offline and not cached, or no Hub source)."""
    spec = get_spec(model_id)
    if _local_file(spec) is not None:
        return "local"
    if cached_path(spec) is not None:
        return "cache"
    return "download" if spec.hub_repo and hub_reachable() else "unavailable"


def cached(model_id: str) -> Path | None:
    """The Hub cache's file of ``model_id`` (a catalogue id or ``hf:...``), or None; no network."""
    return cached_path(_spec_of(model_id))


def resolve(model_id: str, *, allow_download: bool = True) -> ResolvedWeights:
    """Find (or fetch) the weight file of ``model_id``: a catalogue id, or ``hf:owner/repo/file[@rev]``
    (checked against the hash recorded at its first download).

    Raises ``UnknownModelError``, ``WeightsUnavailableError`` (not local, not cached, and offline,
    unreachable or missing on the Hub) or ``ChecksumMismatchError``.
    """
    spec = _spec_of(model_id)
    local = _local_file(spec)
    if local is not None:
        return ResolvedWeights(spec.id, local, "local")

    cached = cached_path(spec)
    if cached is not None:
        bad = _check(spec, cached)
        if bad is None:
            return ResolvedWeights(spec.id, unpacked(spec, cached), "cache")
        if is_offline() or not allow_download:
            raise ChecksumMismatchError(
                f"cached weights {cached} for {spec.id} are corrupt: sha256 {bad}, expected "
                f"{_expected_hash(spec)}; delete the file and {_hint(spec)}"
            )
        log.warning("cached %s has the wrong checksum; downloading it again", cached)
        return ResolvedWeights(spec.id, unpacked(spec, download(spec.id, force=True)), "download")

    if not allow_download:
        raise WeightsUnavailableError(f"weights for {spec.id} are not available locally: {_hint(spec)}")
    return ResolvedWeights(spec.id, unpacked(spec, download(spec.id)), "download")


def unpacked(spec: ModelSpec, path: Path) -> Path:
    """``path``, or for a spec with a ``member`` that member of the (checked) zip ``path``, unpacked once
    into ``<hub cache>/restoration-unpacked/<id>/`` (under a temporary name, then renamed). Raises
    ``WeightsUnavailableError`` when the archive is not a zip or lacks the member."""
    if not spec.member:
        return path
    dst = hub_cache_dir() / "restoration-unpacked" / spec.id / Path(spec.member).name
    stamp, st = dst.with_name(dst.name + ".from"), path.stat()
    source = f"{path.resolve()} {st.st_size} {st.st_mtime_ns}"
    if dst.is_file() and stamp.is_file() and stamp.read_text() == source:
        return dst
    where = f"{spec.hub_repo}/{spec.filename} for {spec.id}"
    try:
        with zipfile.ZipFile(path) as z:
            names = [n for n in z.namelist() if n == spec.member or n.endswith("/" + Path(spec.member).name)]
            if not names:
                raise WeightsUnavailableError(f"{where} holds no {spec.member}; {_hint(spec)}")
            dst.parent.mkdir(parents=True, exist_ok=True)
            tmp = dst.with_name(f"{dst.name}.{os.getpid()}.tmp")
            with z.open(sorted(names, key=len)[0]) as src, open(tmp, "wb") as out:
                shutil.copyfileobj(src, out, 1 << 20)
    except zipfile.BadZipFile as e:
        raise WeightsUnavailableError(f"{where} is not a zip archive ({e}); {_hint(spec)}") from e
    os.replace(tmp, dst)
    stamp.write_text(source)
    return dst


def download(model_id: str, *, force: bool = False) -> Path:
    """Download ``model_id`` into the Hub cache (or confirm it is there) and verify its checksum.

    Raises ``UnknownModelError``, ``WeightsUnavailableError`` (offline and not cached, no Hub source,
    gated, missing or unreachable) and ``ChecksumMismatchError`` (the download is deleted).
    """
    spec = _spec_of(model_id)
    if not spec.hub_repo:
        raise WeightsUnavailableError(f"{spec.id} has no Hub source; {_hint(spec)}")
    if is_offline():
        cached = None if force else cached_path(spec)
        if cached is not None and _check(spec, cached) is None:
            return cached
        raise WeightsUnavailableError(
            f"offline (HF_HUB_OFFLINE is set) and {spec.id} is not cached: {_hint(spec)}"
        )
    if not hub_reachable():
        cached = None if force else cached_path(spec)
        if cached is not None and _check(spec, cached) is None:
            return cached
        raise WeightsUnavailableError(f"the Hugging Face Hub cannot be reached from here and {spec.id} is not "
                                      f"cached: {_hint(spec)}")
    if model_id.startswith("hf:"):
        _check_hub_size(spec)
    path = _hub_download(spec, force)
    actual = sha256_file(path)
    expected = _expected_hash(spec)
    if expected is None and spec.sha256_prefix and not actual.startswith(spec.sha256_prefix):
        _remove_cached(path)
        raise ChecksumMismatchError(
            f"downloaded {spec.filename} for {spec.id} has sha256 {actual}, which does not start with the "
            f"upstream {spec.sha256_prefix}; the file was deleted. Try again, or {_hint(spec)}")
    if expected is None:
        _record_hash(spec, actual)
        log.info("recorded sha256 %s for %s (first download)", actual, spec.id)
    elif actual != expected:
        _remove_cached(path)
        raise ChecksumMismatchError(
            f"downloaded {spec.filename} for {spec.id} has sha256 {actual} but {expected} was "
            f"expected; the file was deleted. Try again, or {_hint(spec)}"
        )
    return path


def hub_file_size(model_id: str) -> int | None:
    """The size in bytes of the Hub file of ``model_id`` (``hf:owner/repo/file``), read without
    downloading it; None when it cannot be read (offline, unreachable: the download will say why)."""
    return _hub_size(_spec_of(model_id))


def _hub_size(spec: ModelSpec) -> int | None:
    from huggingface_hub import get_hf_file_metadata, hf_hub_url

    try:
        meta = get_hf_file_metadata(hf_hub_url(spec.hub_repo, spec.filename, revision=spec.revision),
                                    token=config.get("HF_TOKEN"))
    except Exception:  # noqa: BLE001 - network errors of several libraries: the download says what is wrong
        return None
    return meta.size


def _check_hub_size(spec: ModelSpec) -> None:
    """Refuse, before downloading, a Hub file larger than ``RESTORATION_MAX_MODEL_MB``: anyone who may
    name a model (an app user typing ``hf:...``) could otherwise fill the disk. When the size cannot
    be read, the download itself reports why."""
    cap, size = config.get("RESTORATION_MAX_MODEL_MB"), _hub_size(spec)
    if size is not None and size > cap << 20:
        raise WeightsUnavailableError(
            f"{spec.hub_repo}/{spec.filename} is {size / 2**20:,.0f} MB, more than RESTORATION_MAX_MODEL_MB "
            f"({cap:,} MB) allows; nothing was downloaded. Raise the limit to use it")


def _hub_download(spec: ModelSpec, force: bool) -> Path:
    """``hf_hub_download`` of the spec's file, its errors turned into ``WeightsUnavailableError``."""
    from huggingface_hub import errors as hf_errors
    from huggingface_hub import hf_hub_download

    where = f"{spec.hub_repo}/{spec.filename}"
    try:
        paths = [Path(hf_hub_download(spec.hub_repo, name, revision=spec.revision, cache_dir=hub_cache_dir(),
                                      token=config.get("HF_TOKEN"), force_download=force))
                 for name in (spec.filename, *spec.companions)]
        return paths[0]
    except hf_errors.GatedRepoError:
        why = f"{where} is gated: accept its terms on the Hub and set HF_TOKEN; or"
    except hf_errors.RepositoryNotFoundError:
        why = f"Hub repository {spec.hub_repo} for {spec.id} was not found (or needs HF_TOKEN);"
    except hf_errors.RevisionNotFoundError:
        why = f"revision {spec.revision} of {spec.hub_repo} was not found;"
    except hf_errors.LocalEntryNotFoundError:  # offline or unreachable
        why = f"cannot reach the Hugging Face Hub to download {where} and it is not cached:"
    except hf_errors.EntryNotFoundError:
        why = f"{where} is missing on the Hub;"
    except (OSError, hf_errors.HfHubHTTPError) as e:
        why = f"downloading {where} failed ({e});"
    raise WeightsUnavailableError(f"{why} {_hint(spec)}")


def forget(path: Path) -> None:
    """Delete a downloaded file from the Hub cache (its snapshot entry and the blob behind it)."""
    _remove_cached(path)


def _remove_cached(path: Path) -> None:
    """Delete a cached snapshot entry and the blob it points to."""
    try:
        target = path.resolve()
        path.unlink(missing_ok=True)
        if target != path:
            target.unlink(missing_ok=True)
    except OSError as e:  # pragma: no cover - best effort, the error raised after says what to do
        log.warning("could not delete %s: %s", path, e)
