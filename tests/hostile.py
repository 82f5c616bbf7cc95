"""A catalogue of hostile inputs, each with what a correct answer looks like.

Every case builds its file in a given folder and says either how to check a correct result, or the
pattern the one-line error must match. ``tests/test_hostile.py`` runs the catalogue through the
library, the command line and the running app, so the three surfaces are held to the same answers.
"""

from __future__ import annotations

import io
import os
import stat
import struct
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av
import numpy as np
from PIL import Image, ImageCms, ImageOps


@dataclass
class Case:
    """``build(folder) -> path``; ``error``: regex of the expected message, or None when it must work;
    ``check(output_path, metrics)`` for the ones that work; ``options``: overrides for this case."""

    name: str
    build: Callable[[Path], Path]
    error: str | None = None
    check: Callable[[Path, dict[str, Any]], None] | None = None
    options: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        return self.name


SAME = dict(upscale=0, denoise=0, sharpen=0, colorize="off")  # no stage runs: output = decoded input


def _pattern(w: int = 32, h: int = 24) -> np.ndarray:
    """Asymmetric picture: red top-left quadrant, green top-right, blue bottom half."""
    img = np.zeros((h, w, 3), np.uint8)
    img[: h // 2, : w // 2] = (220, 30, 30)
    img[: h // 2, w // 2:] = (30, 200, 30)
    img[h // 2:] = (30, 30, 210)
    return img


def _write(folder: Path, name: str, data: bytes) -> Path:
    p = folder / name
    p.write_bytes(data)
    return p


def _saved(im: Image.Image, fmt: str, **kw: Any) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def bomb_png() -> bytes:
    """A valid PNG header claiming 60000 x 60000 RGB pixels, with a few bytes of data."""
    ihdr = struct.pack(">IIBBBBB", 60000, 60000, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr)
            + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + _png_chunk(b"IEND", b""))


def _rgb(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"), np.int16)


def _close_to(expected: np.ndarray, tol: float = 4.0) -> Callable[[Path, dict[str, Any]], None]:
    def check(out: Path, metrics: dict[str, Any]) -> None:
        got = _rgb(out)
        assert got.shape == expected.shape, f"shape {got.shape} != {expected.shape}"
        err = np.abs(got - expected.astype(np.int16)).mean()
        assert err < tol, f"mean difference {err:.1f} from the expected picture"

    return check


def _size(w: int, h: int) -> Callable[[Path, dict[str, Any]], None]:
    def check(out: Path, metrics: dict[str, Any]) -> None:
        with Image.open(out) as im:
            assert im.size == (w, h), f"size {im.size} != {(w, h)}"

    return check


# ------------------------------------------------------------------------------------------ images
def _truncated(fmt: str, ext: str) -> Callable[[Path], Path]:
    def build(d: Path) -> Path:
        rng = np.random.default_rng(0)
        data = _saved(Image.fromarray(rng.integers(0, 255, (64, 64, 3), np.uint8)), fmt)
        return _write(d, f"truncated.{ext}", data[: len(data) // 2])

    return build


def _oriented(o: int) -> Case:
    base = Image.fromarray(_pattern())

    def build(d: Path) -> Path:
        exif = Image.Exif()
        exif[0x0112] = o
        return _write(d, f"orient{o}.png", _saved(base, "PNG", exif=exif.tobytes()))

    ex = Image.Exif()
    ex[0x0112] = o
    probe = base.copy()
    probe.info["exif"] = ex.tobytes()
    upright = np.asarray(ImageOps.exif_transpose(probe))
    return Case(f"exif-orientation-{o}", build, check=_close_to(upright), options=SAME)


def _cmyk(d: Path) -> Path:
    cmyk = np.zeros((16, 16, 4), np.uint8)
    cmyk[..., 1:3] = 255  # full magenta + yellow = red
    return _write(d, "cmyk.jpg", _saved(Image.fromarray(cmyk, "CMYK"), "JPEG", quality=95))


def _gray16(d: Path) -> Path:
    ramp = (np.arange(20 * 30, dtype=np.uint32).reshape(20, 30) * 100).astype(np.uint16)
    return _write(d, "gray16.png", _saved(Image.fromarray(ramp), "PNG"))


def _check_gray16(out: Path, metrics: dict[str, Any]) -> None:
    with Image.open(out) as im:
        assert im.mode in ("I;16", "I;16B", "I"), f"mode {im.mode} is not 16-bit gray"
        a = np.asarray(im, np.int64)
    ramp = np.arange(20 * 30, dtype=np.int64).reshape(20, 30) * 100
    assert np.abs(a - ramp).max() <= 1


def _palette(d: Path) -> Path:
    im = Image.new("P", (20, 10))
    im.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    px = np.zeros((10, 20), np.uint8)
    px[:, 10:] = 1
    im.putdata(px.ravel().tolist())
    im.info["transparency"] = 0
    return _write(d, "palette.png", _saved(im, "PNG", transparency=0))


def _check_palette(out: Path, metrics: dict[str, Any]) -> None:
    with Image.open(out) as im:
        a = np.asarray(im.convert("RGBA"))
    assert a[:, :10, 3].max() == 0 and a[:, 10:, 3].min() == 255
    assert (a[:, 10:, :3] == (255, 0, 0)).all()


def _animated(fmt: str, ext: str) -> Callable[[Path], Path]:
    def build(d: Path) -> Path:
        frames = [Image.new("RGB", (24, 16), c) for c in ((200, 20, 20), (20, 20, 200), (20, 200, 20))]
        data = _saved(frames[0], fmt, save_all=True, append_images=frames[1:], duration=100, loop=0,
                      **({"lossless": True} if fmt == "WEBP" else {}))
        return _write(d, f"animated.{ext}", data)

    return build


def _check_first_frame(out: Path, metrics: dict[str, Any]) -> None:
    _close_to(np.full((16, 24, 3), (200, 20, 20), np.uint8), tol=6)(out, metrics)
    assert any("first of 3 frames" in w for w in metrics.get("warnings", [])), metrics.get("warnings")


def _icc(d: Path) -> Path:
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    return _write(d, "icc.png", _saved(Image.fromarray(_pattern()), "PNG", icc_profile=profile))


def _check_icc(out: Path, metrics: dict[str, Any]) -> None:
    with Image.open(out) as im:
        assert im.info.get("icc_profile"), "the ICC profile was dropped"
    _close_to(_pattern())(out, metrics)


IMAGE_CASES: list[Case] = [
    Case("zero-byte", lambda d: _write(d, "empty.png", b""), error=r"empty\.png: the file is empty"),
    Case("text-as-png", lambda d: _write(d, "notes.png", b"shopping list: eggs\n"),
         error=r"notes\.png: not a readable image"),
    Case("truncated-png", _truncated("PNG", "png"), error=r"truncated\.png: .*(damaged|truncated)"),
    Case("truncated-jpeg", _truncated("JPEG", "jpg"), error=r"truncated\.jpg: .*(damaged|truncated)"),
    Case("decompression-bomb", lambda d: _write(d, "bomb.png", bomb_png()),
         error=r"bomb\.png: .*(over the limit|too large)"),
    Case("one-pixel", lambda d: _write(d, "dot.png", _saved(Image.new("RGB", (1, 1), (90, 120, 30)), "PNG")),
         check=_size(2, 2), options=dict(upscale=2)),
    Case("cmyk-jpeg", _cmyk, check=_close_to(np.full((16, 16, 3), (255, 0, 0), np.uint8), tol=8),
         options=SAME),
    Case("gray-16bit-png", _gray16, check=_check_gray16, options=SAME),
    Case("palette-transparency", _palette, check=_check_palette, options=SAME),
    Case("animated-gif", _animated("GIF", "gif"), check=_check_first_frame, options=SAME),
    Case("animated-webp", _animated("WEBP", "webp"), check=_check_first_frame, options=SAME),
    *[_oriented(o) for o in range(1, 9)],
    Case("icc-profile", _icc, check=_check_icc, options=SAME),
]

# Option values that must be refused, each with the word the message must contain (library names).
BAD_OPTIONS: list[tuple[str, Any, str]] = [
    ("upscale", -1, "upscale"),
    ("upscale", 100, "upscale"),
    ("upscale", float("nan"), "upscale"),
    ("upscale", float("inf"), "upscale"),
    ("upscale", "big", "upscale"),
    ("denoise", 999, "denoise"),
    ("denoise", float("nan"), "denoise"),
    ("denoise", float("-inf"), "denoise"),
    ("denoise", [3], "denoise"),
    ("sharpen", float("nan"), "sharpen"),
    ("sharpen", -2, "sharpen"),
    ("model", "no-such-model", "no-such-model"),
    ("model", "ddcolor", "ddcolor"),
    ("color_model", "realesrgan-x4plus", "realesrgan-x4plus"),
    ("colorize", "sometimes", "colorize"),
    ("output_format", "exe", "exe"),
]


# ------------------------------------------------------------------------------------------ videos
def _clip(path: Path, w: int, h: int, n: int) -> Path:
    with av.open(str(path), "w") as c:
        v = c.add_stream("libx264", rate=12)
        v.width, v.height, v.pix_fmt = w, h, "yuv420p" if w % 2 == h % 2 == 0 else "yuv444p"
        for i in range(n):
            img = np.zeros((h, w, 3), np.uint8)
            img[..., 0] = (i * 20) % 255
            img[: h // 2, : w // 2] = (200, 200, 40)
            f = av.VideoFrame.from_ndarray(img, format="rgb24")
            f.pts = i
            for p in v.encode(f):
                c.mux(p)
        for p in v.encode(None):
            c.mux(p)
    return path


def _audio_only(d: Path) -> Path:
    """An M4A file with an AAC track and no video stream."""
    path = d / "tone.m4a"
    with av.open(str(path), "w") as c:
        a = c.add_stream("aac", rate=16000)
        a.layout = "mono"
        af = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="flt", layout="mono")
        af.sample_rate, af.pts = 16000, 0
        for p in [*a.encode(af), *a.encode(None)]:
            c.mux(p)
    return path


def _zero_frames(d: Path) -> Path:
    path = d / "noframes.mkv"
    with av.open(str(path), "w") as c:
        v = c.add_stream("ffv1", rate=12)
        v.width, v.height, v.pix_fmt = 32, 24, "yuv444p"
        c.start_encoding()  # header and trailer only: a video stream without a single frame
    return path


def _corrupt_middle(d: Path) -> Path:
    path = _clip(d / "corrupt.mp4", 64, 48, 36)
    data = bytearray(path.read_bytes())
    start = data.index(b"mdat") + 4  # the coded pictures; the index (moov) stays intact
    size = struct.unpack(">I", data[start - 8: start - 4])[0] - 8
    mid = start + size // 2
    data[mid: mid + 300] = np.random.default_rng(1).integers(0, 256, 300, np.uint8).tobytes()
    path.write_bytes(bytes(data))
    return path


def _check_corrupt(out: Path, metrics: dict[str, Any]) -> None:
    _check_video(128, 96, 12)(out, metrics)
    assert any("damaged packet" in w for w in metrics["warnings"]), metrics["warnings"]


def _check_video(w: int, h: int, min_frames: int) -> Callable[[Path, dict[str, Any]], None]:
    def check(out: Path, metrics: dict[str, Any]) -> None:
        with av.open(str(out)) as c:
            frames = [f for f in c.decode(c.streams.video[0])]
        assert len(frames) >= min_frames, f"{len(frames)} frames"
        assert (frames[0].width, frames[0].height) == (w, h)

    return check


def _check_odd(out: Path, metrics: dict[str, Any]) -> None:
    """H.264 4:2:0 cannot code 33x25: one repeated column and row, and a warning saying so."""
    _check_video(34, 26, 6)(out, metrics)
    assert metrics["size_out"] == [33, 25]
    assert any("odd size 33x25" in w for w in metrics["warnings"]), metrics["warnings"]


VIDEO_CASES: list[Case] = [
    Case("video-zero-byte", lambda d: _write(d, "empty.mp4", b""), error=r"empty\.mp4: .*empty"),
    Case("video-text", lambda d: _write(d, "notes.mp4", b"not a video\n" * 10), error=r"notes\.mp4"),
    Case("video-no-video-stream", _audio_only, error=r"tone\.m4a: .*no video stream"),
    Case("video-zero-frames", _zero_frames, error=r"noframes\.mkv: .*(no frames|not a readable video)"),
    Case("video-corrupt-middle", _corrupt_middle, check=_check_corrupt, options=dict(upscale=2)),
    Case("video-odd-size", lambda d: _clip(d / "odd.mp4", 33, 25, 6), check=_check_odd, options=SAME),
]


# -------------------------------------------------------------------------------------------- zips
def _tiny_png(color: tuple[int, int, int] = (120, 60, 30), size: tuple[int, int] = (8, 6)) -> bytes:
    return _saved(Image.new("RGB", size, color), "PNG")


def _zip(d: Path, name: str, entries: list[tuple[str | zipfile.ZipInfo, bytes]]) -> Path:
    path = d / name
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for entry, data in entries:
            zf.writestr(entry, data)
    return path


def _symlink_entry(name: str, target: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.create_system = 3  # unix
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info


@dataclass
class ZipCase:
    """``restored``: the relative paths that must come out; ``error``: regex when the archive as a
    whole must be refused; ``outside``: names that must not appear outside the output folder."""

    name: str
    build: Callable[[Path], Path]
    restored: list[str] = field(default_factory=list)
    error: str | None = None
    outside: list[str] = field(default_factory=list)

    def __repr__(self) -> str:
        return self.name


def _bomb(d: Path) -> Path:
    path = d / "bomb.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        with zf.open("huge.png", "w", force_zip64=True) as f:
            block = b"\x00" * (1 << 20)
            for _ in range(int(os.environ.get("HOSTILE_BOMB_MB", "64"))):
                f.write(block)
    return path


ZIP_CASES: list[ZipCase] = [
    ZipCase("zip-slip", lambda d: _zip(d, "slip.zip", [("../../slip_evil.png", _tiny_png()),
                                                         ("a/../../slip_evil2.png", _tiny_png())]),
            restored=["slip_evil.png", "a/slip_evil2.png"], outside=["slip_evil.png", "slip_evil2.png"]),
    ZipCase("zip-absolute", lambda d: _zip(d, "abs.zip", [("/tmp/restoration_abs_evil.png", _tiny_png()),
                                                           ("C:\\Windows\\evil.png", _tiny_png())]),
            restored=["tmp/restoration_abs_evil.png", "C:/Windows/evil.png"],
            outside=["/tmp/restoration_abs_evil.png"]),
    ZipCase("zip-symlink", lambda d: _zip(d, "links.zip", [(_symlink_entry("passwd.png", "/etc/passwd"),
                                                           b"/etc/passwd"), ("ok.png", _tiny_png())]),
            restored=["ok.png"]),
    ZipCase("zip-nested", lambda d: _zip(d, "nested.zip", [
        ("inner.zip", _zip(d, "inner.zip", [("deep.png", _tiny_png())]).read_bytes()),
        ("top.png", _tiny_png())]), restored=["top.png"]),
    ZipCase("zip-thousands", lambda d: _zip(d, "many.zip", [(f"f{i:04d}.png", _tiny_png(size=(1, 1)))
                                                            for i in range(3000)]),
            error=r"many\.zip: .*(more than|over the limit).*split"),
    ZipCase("zip-bomb", _bomb, error=r"bomb\.zip: .*uncompressed size.*split"),
    ZipCase("zip-not-a-zip", lambda d: _write(d, "fake.zip", b"PK\x03\x04 garbage"),
            error=r"fake\.zip: not a readable zip"),
]
