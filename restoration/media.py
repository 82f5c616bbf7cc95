"""Reading and writing image files: the only module that touches image files on disk.

``read_image`` turns a path, bytes, PIL image or NumPy array into ``ImageData``: float32 RGB pixels in
[0, 1] (grayscale replicated to three channels), a separate alpha plane, and what must survive the
round trip: bit depth (8 or 16), whether the source had one channel, its ICC profile and EXIF (with the
orientation already applied to the pixels). ``write_image`` writes it back atomically (temporary name,
then rename) in the format asked for, with a small JSON record of what was done in the file's metadata.
"""

from __future__ import annotations

import io
import json
import logging
import os
import struct
import uuid
import zlib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from . import config
from .errors import ImageReadError, ImageWriteError, OptionError
from .options import normalize_format

log = logging.getLogger(__name__)

ImageInput = str | os.PathLike | bytes | Image.Image | np.ndarray
INPUT_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".gif")
_EXT_FORMAT = {".png": "png", ".jpg": "jpeg", ".jpeg": "jpeg", ".webp": "webp", ".bmp": "bmp",
               ".tif": "tiff", ".tiff": "tiff"}
FORMAT_EXT = {"png": ".png", "jpeg": ".jpg", "webp": ".webp", "bmp": ".bmp", "tiff": ".tif"}
_ORIENTATION = 0x0112


def max_pixels() -> int:
    """The largest input accepted, in pixels (``$RESTORATION_MAX_PIXELS``, default 100 MP). Raises
    ``ConfigError`` for an unusable value."""
    return config.get("RESTORATION_MAX_PIXELS")


def image_size(path: str | os.PathLike) -> tuple[int, int] | None:
    """(width, height) from an image file's header, without decoding it; None when unreadable."""
    try:
        with Image.open(path) as im:
            return im.size
    except (OSError, ValueError, Image.DecompressionBombError):
        return None


@dataclass(frozen=True)
class ImageData:
    """Pixels plus what the file said about them.

    ``pixels``: float32 (H, W, 3) RGB in [0, 1]. ``alpha``: float32 (H, W) in [0, 1] or None.
    ``bit_depth``: 8 or 16. ``grayscale``: the source had a single colour channel.
    ``icc_profile``/``exif``: raw bytes to carry to the output (EXIF orientation is already applied).
    ``frames``: how many frames the source has (animated GIF/WebP/PNG); the pixels are the first.
    """

    pixels: np.ndarray
    alpha: np.ndarray | None = None
    bit_depth: int = 8
    grayscale: bool = False
    icc_profile: bytes | None = None
    exif: bytes | None = None
    name: str = "image"
    frames: int = 1  # an animated source has more; only the first is read

    @property
    def size(self) -> tuple[int, int]:
        """(width, height)."""
        return self.pixels.shape[1], self.pixels.shape[0]


# ----------------------------------------------------------------------------------------- reading
def read_image(src: ImageInput, *, name: str | None = None, limit: int | None = None) -> ImageData:
    """Decode ``src``; raises ``ImageReadError`` naming the input and the problem."""
    limit = max_pixels() if limit is None else limit
    if isinstance(src, np.ndarray):
        return _from_array(src, name or "array")
    if isinstance(src, Image.Image):
        return _from_pil(src, None, name or "image", limit)
    if isinstance(src, (bytes, bytearray)):
        data, label = bytes(src), name or "uploaded image"
    else:
        path = Path(src)
        label = name or path.name
        if not path.exists():
            raise ImageReadError(f"{path}: file not found")
        if path.is_dir():
            raise ImageReadError(f"{path}: is a folder, not an image file")
        data = path.read_bytes()
    if not data:
        raise ImageReadError(f"{label}: the file is empty (0 bytes)")
    try:
        im = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        raise ImageReadError(f"{label}: not a readable image; use PNG, JPEG, WebP, BMP or TIFF") from None
    except Image.DecompressionBombError:
        raise ImageReadError(f"{label}: image is too large (over {limit:,} pixels)") from None
    except OSError as e:
        raise ImageReadError(f"{label}: cannot read the image ({e})") from None
    return _from_pil(im, data, label, limit)


def _check_size(w: int, h: int, label: str, limit: int) -> None:
    if w < 1 or h < 1:
        raise ImageReadError(f"{label}: the image has no pixels ({w}x{h})")
    if w * h > limit:
        raise ImageReadError(f"{label}: {w}x{h} is {w * h:,} pixels, over the limit of {limit:,}; downscale it "
                             "first or raise RESTORATION_MAX_PIXELS")


def _is_16bit(im: Image.Image, data: bytes | None) -> bool:
    if im.mode.startswith("I;16") or im.mode == "I":
        return True
    if data is None:
        return False
    if im.format == "PNG" and len(data) > 25:
        return data[24] == 16
    if im.format == "TIFF":
        bits = getattr(im, "tag_v2", {}).get(258)
        bits = bits if isinstance(bits, tuple) else (bits,)
        return any(b == 16 for b in bits if b)
    return False


def _from_pil(im: Image.Image, data: bytes | None, label: str, limit: int) -> ImageData:
    _check_size(im.width, im.height, label, limit)
    frames = int(getattr(im, "n_frames", 1) or 1)
    try:
        exif = im.getexif()
        orientation = int(exif.get(_ORIENTATION, 1) or 1)
    except Exception:  # noqa: BLE001 - malformed EXIF must not stop the restoration
        exif, orientation = None, 1
    icc = im.info.get("icc_profile") or None
    src_mode = im.mode
    try:
        if _is_16bit(im, data) and data is not None:
            pixels, alpha, gray = _decode_16bit(data, label)
            pixels = _orient(pixels, orientation)
            alpha = _orient(alpha, orientation) if alpha is not None else None
            depth = 16
        else:
            im.load()
            im = ImageOps.exif_transpose(im) if orientation != 1 else im
            pixels, alpha, gray = _pil_pixels(im)
            depth = 8
    except ImageReadError:
        raise
    except (OSError, ValueError, SyntaxError) as e:
        raise ImageReadError(f"{label}: the image data is damaged or truncated ({e})") from None
    if src_mode not in ("RGB", "RGBA", "L", "LA", "P", "PA", "1", "I;16", "I;16B", "I;16L", "I"):
        icc = None  # a CMYK/YCbCr profile does not describe the RGB we produce
    exif_bytes = None
    if exif is not None and len(exif):
        exif[_ORIENTATION] = 1
        try:
            exif_bytes = exif.tobytes()
        except Exception:  # noqa: BLE001 - an EXIF block Pillow cannot write back is dropped
            exif_bytes = None
    return ImageData(pixels, alpha, depth, gray, icc, exif_bytes, label, frames)


def _pil_pixels(im: Image.Image) -> tuple[np.ndarray, np.ndarray | None, bool]:
    mode = im.mode
    if mode == "P" or mode == "PA":
        im = im.convert("RGBA" if ("transparency" in im.info or mode == "PA") else "RGB")
        mode = im.mode
    if mode in ("1", "L"):
        g = np.asarray(im.convert("L"), dtype=np.float32) / 255.0
        return np.repeat(g[..., None], 3, axis=2), None, True
    if mode in ("LA", "La"):
        arr = np.asarray(im.convert("LA"), dtype=np.float32) / 255.0
        return np.repeat(arr[..., :1], 3, axis=2), arr[..., 1].copy(), True
    if mode == "F":
        g = np.clip(np.asarray(im, dtype=np.float32), 0, 1)
        return np.repeat(g[..., None], 3, axis=2), None, True
    if mode in ("RGBA", "RGBa"):
        arr = np.asarray(im.convert("RGBA"), dtype=np.float32) / 255.0
        return np.ascontiguousarray(arr[..., :3]), arr[..., 3].copy(), False
    arr = np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0
    return arr, None, False


def _decode_16bit(data: bytes, label: str) -> tuple[np.ndarray, np.ndarray | None, bool]:
    import cv2

    arr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if arr is None:
        raise ImageReadError(f"{label}: the 16-bit image data is damaged or truncated")
    scale = 65535.0 if arr.dtype == np.uint16 else 255.0
    arr = arr.astype(np.float32) / scale
    if arr.ndim == 2:
        return np.repeat(arr[..., None], 3, axis=2), None, True
    if arr.shape[2] == 2:
        return np.repeat(arr[..., :1], 3, axis=2), arr[..., 1].copy(), True
    if arr.shape[2] == 4:
        return np.ascontiguousarray(arr[..., 2::-1]), arr[..., 3].copy(), False
    return np.ascontiguousarray(arr[..., ::-1]), None, False


def _orient(a: np.ndarray, orientation: int) -> np.ndarray:
    """Apply EXIF orientation 1..8 to an (H, W, ...) array."""
    ops = {
        2: lambda x: x[:, ::-1],
        3: lambda x: x[::-1, ::-1],
        4: lambda x: x[::-1],
        5: lambda x: np.swapaxes(x, 0, 1),
        6: lambda x: np.swapaxes(x, 0, 1)[:, ::-1],
        7: lambda x: np.swapaxes(x, 0, 1)[::-1, ::-1],
        8: lambda x: np.swapaxes(x, 0, 1)[::-1],
    }
    op = ops.get(orientation)
    return np.ascontiguousarray(op(a)) if op else a


def _from_array(arr: np.ndarray, label: str) -> ImageData:
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (1, 3, 4)):
        raise ImageReadError(f"{label}: array of shape {arr.shape} is not an (H, W[, 1|3|4]) image")
    _check_size(arr.shape[1], arr.shape[0], label, max_pixels())
    depth = 8
    if arr.dtype == np.uint8:
        a = arr.astype(np.float32) / 255.0
    elif arr.dtype == np.uint16:
        a, depth = arr.astype(np.float32) / 65535.0, 16
    elif np.issubdtype(arr.dtype, np.floating):
        if not np.isfinite(arr).all():
            raise ImageReadError(f"{label}: the array contains NaN or infinite values")
        a = np.clip(arr.astype(np.float32), 0, 1)
    else:
        raise ImageReadError(f"{label}: unsupported array dtype {arr.dtype}; use uint8, uint16 or float")
    if a.ndim == 2 or a.shape[2] == 1:
        g = a.reshape(a.shape[0], a.shape[1])
        return ImageData(np.repeat(g[..., None], 3, axis=2), None, depth, True, name=label)
    if a.shape[2] == 4:
        return ImageData(np.ascontiguousarray(a[..., :3]), a[..., 3].copy(), depth, False, name=label)
    return ImageData(np.ascontiguousarray(a), None, depth, False, name=label)


# ----------------------------------------------------------------------------------------- writing
def format_for(path: str | os.PathLike, output_format: str | None = None) -> str:
    """The output format: ``output_format`` when given, else from the extension. Raises
    ``OptionError`` for an unknown format or a name whose extension says none."""
    if output_format:
        return normalize_format(output_format)
    ext = Path(path).suffix.lower()
    if ext not in _EXT_FORMAT:
        raise OptionError(f"cannot tell the output format from {Path(path).name!r}: use a .png, .jpg, .webp, "
                          ".tif or .bmp name, or set output_format")
    return _EXT_FORMAT[ext]


def to_array(img: ImageData, *, bit_depth: int | None = None) -> np.ndarray:
    """Integer pixels (H, W[, C]) as they will be stored: gray stays one channel, alpha appended."""
    depth = bit_depth or img.bit_depth
    maxv, dtype = (65535.0, np.uint16) if depth == 16 else (255.0, np.uint8)
    chans = img.pixels[..., :1] if img.grayscale else img.pixels
    if img.alpha is not None:
        chans = np.concatenate([chans, img.alpha[..., None]], axis=2)
    out = np.clip(chans * maxv + 0.5, 0, maxv).astype(dtype)
    return out[..., 0] if out.shape[2] == 1 else out


def write_image(
    img: ImageData,
    path: str | os.PathLike,
    *,
    output_format: str | None = None,
    quality: int = 95,
    record: dict[str, Any] | None = None,
) -> Path:
    """Write ``img`` to ``path`` atomically; returns the path. ``record`` goes into the metadata.
    Raises what ``format_for`` raises, and ``ImageWriteError`` when the folder is missing or the file
    cannot be written (nothing is left under ``path`` then)."""
    path = Path(path)
    fmt = format_for(path, output_format)
    if not path.parent.exists():
        raise ImageWriteError(f"{path}: the folder {path.parent} does not exist")
    text = json.dumps(record, sort_keys=True, default=str) if record else None
    depth = 16 if img.bit_depth == 16 and fmt in ("png", "tiff") else 8
    if fmt in ("jpeg",) and img.alpha is not None:
        log.info("%s: JPEG has no transparency; flattening onto white", path.name)
        a = img.alpha[..., None]
        img = replace(img, pixels=img.pixels * a + (1 - a), alpha=None)
    # a fresh name, created by the writer: the file gets the mode any new file gets (mkstemp's is 0600)
    tmp = path.parent / f".{path.stem}.{uuid.uuid4().hex[:12]}.part"
    try:
        if depth == 16:
            _write_16bit(img, tmp, fmt, text)
        else:
            _write_8bit(img, tmp, fmt, quality, text)
        os.replace(tmp, path)
    except OSError as e:
        raise ImageWriteError(f"{path}: could not write the image ({e})") from None
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _write_8bit(img: ImageData, tmp: Path, fmt: str, quality: int, text: str | None) -> None:
    arr = to_array(img, bit_depth=8)
    pil = Image.fromarray(arr)
    kwargs: dict[str, Any] = {}
    icc = img.icc_profile if _icc_fits(img) else None
    if icc and fmt in ("png", "jpeg", "webp", "tiff"):
        kwargs["icc_profile"] = icc
    exif = Image.Exif()
    if img.exif:
        try:
            exif.load(img.exif)
        except Exception:  # noqa: BLE001 - unreadable EXIF: start a fresh one
            exif = Image.Exif()
    if text:
        exif[0x010E] = text  # ImageDescription
        exif[0x0131] = "restoration"  # Software
    if fmt == "png":
        from PIL.PngImagePlugin import PngInfo

        info = PngInfo()
        if text:
            info.add_text("restoration", text)
            info.add_text("Software", "restoration")
        kwargs["pnginfo"] = info
        if len(exif):
            kwargs["exif"] = exif.tobytes()
        pil.save(tmp, "PNG", **kwargs)
    elif fmt == "jpeg":
        pil.save(tmp, "JPEG", quality=quality, subsampling=0 if quality >= 90 else 2,
                 exif=exif.tobytes(), **kwargs)
    elif fmt == "webp":
        pil.save(tmp, "WEBP", quality=quality, exif=exif.tobytes(), **kwargs)
    elif fmt == "tiff":
        pil.save(tmp, "TIFF", compression="tiff_deflate", exif=exif.tobytes(), **kwargs)
    else:
        pil.save(tmp, "BMP")


def _icc_fits(img: ImageData) -> bool:
    """A gray ICC profile must not be attached to RGB output and the other way round."""
    if not img.icc_profile or len(img.icc_profile) < 20:
        return False
    space = img.icc_profile[16:20]
    return space == (b"GRAY" if img.grayscale else b"RGB ")


def _write_16bit(img: ImageData, tmp: Path, fmt: str, text: str | None) -> None:
    arr = to_array(img, bit_depth=16)
    icc = img.icc_profile if _icc_fits(img) else None
    if fmt == "tiff":
        import tifffile

        photometric = "minisblack" if arr.ndim == 2 or arr.shape[2] == 2 else "rgb"
        extras = "unassalpha" if img.alpha is not None else None
        tifffile.imwrite(
            tmp, arr, photometric=photometric, description=text, compression="zlib",
            iccprofile=icc, extrasamples=[extras] if extras else None,
        )
        return
    import cv2

    bgr = arr
    if arr.ndim == 3:
        bgr = arr[..., [2, 1, 0, 3]] if arr.shape[2] == 4 else arr[..., ::-1]
        if arr.shape[2] == 2:  # gray + alpha: OpenCV has no LA, store as RGBA
            g, a = arr[..., 0], arr[..., 1]
            bgr = np.stack([g, g, g, a], axis=2)
    ok, buf = cv2.imencode(".png", np.ascontiguousarray(bgr))
    if not ok:
        raise OSError("OpenCV could not encode the 16-bit PNG")
    data = buf.tobytes()
    extra = b""
    if icc:
        extra += _png_chunk(b"iCCP", b"icc\x00\x00" + zlib.compress(icc))
    if text:
        extra += _png_chunk(b"tEXt", b"restoration\x00" + text.encode("latin-1", "replace"))
    tmp.write_bytes(data[:33] + extra + data[33:])  # after the signature (8) and IHDR (25)


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)


def read_record(path: str | os.PathLike) -> dict[str, Any] | None:
    """The JSON record ``write_image`` stored in ``path``, or None. Raises nothing for a file without one."""
    with Image.open(path) as im:
        text = im.info.get("restoration") or im.info.get("description") or im.getexif().get(0x010E)
        if not text and hasattr(im, "tag_v2"):
            text = im.tag_v2.get(270)
    try:
        return json.loads(text) if text else None
    except ValueError:
        return None
