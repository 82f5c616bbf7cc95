"""A video's colour, read from its frames and kept: the matrix, range, primaries and transfer, and the bit depth.

``Colour.of(frame)`` reads what the input says; its frames become RGB with that matrix and range
(unspecified ones as FFmpeg reads them: BT.601, limited range), with accurate rounding and full-resolution
chroma (``to_rgb``), and the restored RGB frames go back to the output's pixel format with the same
matrix and range and the same tags (``from_rgb``, ``tag``), so a video whose stages change nothing comes
back as its own frames up to the codec's loss, with no shift of colour. A source of more than 8 bits
becomes 16-bit RGB and stays deep where the output codec can carry it (``deep_formats``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# AVColorSpace -> (Kr, Kb) of its matrix, for the full-range conversions done here
_K = {1: (0.2126, 0.0722), 4: (0.30, 0.11), 5: (0.299, 0.114), 6: (0.299, 0.114), 7: (0.212, 0.087),
      9: (0.2627, 0.0593), 10: (0.2627, 0.0593)}
# AVColorSpace (what frames and streams say) -> swscale's matrix (what conversions take)
_MATRIX = {1: "ITU709", 4: "FCC", 5: "ITU601", 6: "ITU601", 7: "SMPTE240M", 9: "BT2020", 10: "BT2020"}
UNSPECIFIED = 2  # AVCOL_SPC / _PRI / _TRC_UNSPECIFIED
MPEG, JPEG = 1, 2  # AVCOL_RANGE: limited ("tv"), full ("pc")
# pixel format of each codec, 8-bit and deep (None: the codec stays 8-bit here)
PIXEL_FORMATS: dict[str, tuple[str, str | None]] = {
    "h264": ("yuv420p", None),
    "h265": ("yuv420p", "yuv420p10le"),
    "vp9": ("yuv420p", None),
    "av1": ("yuv420p", "yuv420p10le"),
    "ffv1": ("yuv444p", "yuv444p10le"),
    "prores": ("yuv422p10le", "yuv422p10le"),
    "png": ("rgb24", "rgb48be"),
}


def _flags():
    from av.video.reformatter import Interpolation as Flag

    return Flag


@dataclass(frozen=True)
class Colour:
    """What a video's frames say of their colour (FFmpeg's enumerations), and their bits per sample."""

    space: int = UNSPECIFIED
    range: int = 0
    primaries: int = UNSPECIFIED
    trc: int = UNSPECIFIED
    bits: int = 8

    @classmethod
    def of(cls, frame) -> Colour:
        """The colour of a decoded ``av.VideoFrame``."""
        bits = max((c.bits for c in frame.format.components), default=8)
        return cls(int(frame.colorspace), int(frame.color_range), int(frame.color_primaries), int(frame.color_trc),
                   bits)

    @property
    def matrix(self) -> str:
        """swscale's name of the YUV matrix (BT.601 where the video does not say, as FFmpeg reads it)."""
        return _MATRIX.get(self.space, "ITU601")

    @property
    def full_range(self) -> bool:
        return self.range == JPEG

    @property
    def deep(self) -> bool:
        return self.bits > 8

    def to_rgb(self, frame, deep: bool) -> np.ndarray:
        """``frame`` as RGB (H, W, 3): uint16 when ``deep``, else uint8. 8-bit limited-range YUV goes
        through swscale with accurate rounding; full-range and deeper YUV are converted here (swscale
        shifts their colour by 0.6 to 0.8 of 255 in this FFmpeg)."""
        f = _flags()
        yuv = not frame.format.name.startswith(("rgb", "bgr", "gbr", "gray"))
        exact = self.full_range or frame.format.components[0].bits > 8
        if yuv and exact and frame.format.name.startswith("yuv") and len(frame.planes) == 3:
            return _yuv_to_rgb(frame, *_K.get(self.space, _K[5]), self.full_range, deep)
        kw = dict(src_colorspace=self.matrix, src_color_range="JPEG" if self.full_range else "MPEG") if yuv else {}
        return frame.to_ndarray(format="rgb48le" if deep else "rgb24",
                                interpolation=f.BICUBIC | f.ACCURATE_RND | f.FULL_CHR_H_INT, **kw)

    def from_rgb(self, rgb: np.ndarray, pix_fmt: str):
        """An ``av.VideoFrame`` of ``pix_fmt`` from RGB ``rgb`` (uint8, or uint16 for 16-bit), with this
        colour's matrix and range, tagged with its primaries and transfer."""
        import av

        f = _flags()
        frame = av.VideoFrame.from_ndarray(rgb, format="rgb48le" if rgb.dtype == np.uint16 else "rgb24")
        if pix_fmt.startswith("rgb"):
            return frame.reformat(format=pix_fmt)
        if pix_fmt.startswith("yuv") and (self.full_range or pix_fmt.endswith(("10le", "12le", "16le"))):
            out = _rgb_to_yuv(rgb, pix_fmt, *_K.get(self.space, _K[5]), self.full_range)
        else:
            out = frame.reformat(format=pix_fmt, dst_colorspace=self.matrix,
                                 dst_color_range="JPEG" if self.full_range else "MPEG",
                                 interpolation=f.AREA | f.ACCURATE_RND)
        out.colorspace, out.color_primaries, out.color_trc = self.space, self.primaries, self.trc
        out.color_range = JPEG if self.full_range else MPEG
        return out

    def tag(self, codec_context) -> None:
        """Write this colour's description into an encoder's stream (what players read)."""
        codec_context.colorspace = self.space
        codec_context.color_primaries = self.primaries
        codec_context.color_trc = self.trc
        codec_context.color_range = JPEG if self.full_range else MPEG


def _planes(frame) -> list[np.ndarray]:
    """The frame's Y, U, V planes as arrays of their own sizes (uint8, or uint16 above 8 bits)."""
    wide = frame.format.components[0].bits > 8
    out = []
    for p in frame.planes:
        row = np.frombuffer(p, np.uint16 if wide else np.uint8).reshape(p.height, -1)
        out.append(row[:, :p.width])
    return out


def _levels(bits: int, full: bool) -> tuple[float, float, float, float]:
    """(black, luma span, chroma zero, chroma span) of ``bits``-bit YUV in full or limited range."""
    top, unit = float((1 << bits) - 1), float(1 << (bits - 8))
    if full:
        return 0.0, top, float(1 << (bits - 1)), top
    return 16 * unit, 219 * unit, 128 * unit, 224 * unit


def _yuv_to_rgb(frame, kr: float, kb: float, full: bool, deep: bool) -> np.ndarray:
    import cv2

    y, u, v = _planes(frame)
    black, span, zero, cspan = _levels(frame.format.components[0].bits, full)
    h, w = y.shape
    up = lambda p: cv2.resize(p.astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC) if p.shape != (h, w) \
        else p.astype(np.float32)  # noqa: E731
    yy, cb, cr = (y.astype(np.float32) - black) / span, (up(u) - zero) / cspan, (up(v) - zero) / cspan
    r = yy + 2 * (1 - kr) * cr
    b = yy + 2 * (1 - kb) * cb
    g = (yy - kr * r - kb * b) / (1 - kr - kb)
    rgb = np.clip(np.stack([r, g, b], -1), 0, 1)
    return (rgb * 65535 + 0.5).astype(np.uint16) if deep else (rgb * 255 + 0.5).astype(np.uint8)


def _rgb_to_yuv(rgb: np.ndarray, pix_fmt: str, kr: float, kb: float, full: bool):
    """An ``av.VideoFrame`` of the YUV ``pix_fmt`` from RGB (chroma averaged where subsampled)."""
    import av
    import cv2

    x = rgb.astype(np.float32) / (65535.0 if rgb.dtype == np.uint16 else 255.0)
    r, g, b = x[..., 0], x[..., 1], x[..., 2]
    y = kr * r + (1 - kr - kb) * g + kb * b
    cb, cr = (b - y) / (2 * (1 - kb)), (r - y) / (2 * (1 - kr))
    frame = av.VideoFrame(rgb.shape[1], rgb.shape[0], pix_fmt)
    bits = frame.format.components[0].bits
    black, span, zero, cspan = _levels(bits, full)
    top, kind = float((1 << bits) - 1), np.uint16 if bits > 8 else np.uint8
    for plane, values, (scale, offset) in zip(frame.planes, (y, cb, cr), ((span, black), (cspan, zero), (cspan, zero))):
        if values.shape != (plane.height, plane.width):
            values = cv2.resize(values, (plane.width, plane.height), interpolation=cv2.INTER_AREA)
        q = np.clip(np.floor(values * scale + offset + 0.5), 0, top).astype(kind)
        row = np.frombuffer(plane, kind).reshape(plane.height, -1)
        row[:, :plane.width] = q
    return frame


def pixel_format(codec: str, deep: bool) -> str:
    """The pixel format ``codec`` is written in: its deep one when ``deep`` and it has one."""
    eight, more = PIXEL_FORMATS[codec]
    return more if deep and more else eight


def keeps_depth(codec: str) -> bool:
    """Whether ``codec`` can carry more than 8 bits per sample here."""
    return PIXEL_FORMATS[codec][1] is not None
