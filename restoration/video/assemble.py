"""Joining the finished segments into the output, with the source's audio and subtitles.

Audio and subtitle packets are copied as they are; audio whose codec the output container cannot hold
is re-encoded (AAC, or Opus for WebM). Packets of all streams are interleaved by time. The file is
written under a temporary name and renamed at the end, so the final name never holds a partial file.
"""

from __future__ import annotations

import heapq
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .probe import open_video
from .segments import segment_name

log = logging.getLogger(__name__)


def _audio_codec_for(suffix: str) -> str:
    return {".webm": "libopus"}.get(suffix, "aac")


class _Streams:
    """The output's streams taken from the source: copied (``copy``) or re-encoded (``encode``)."""

    def __init__(self) -> None:
        self.copy: dict[int, Any] = {}
        self.encode: dict[int, tuple[Any, Any]] = {}  # source index -> (encoder stream, resampler)
        self.carried = {"audio_copied": 0, "audio_reencoded": 0, "subtitles_copied": 0}

    def add(self, src: Path, dst: Path, out, s) -> None:
        import av

        name = s.codec_context.name
        try:
            if name in out.supported_codecs:
                self.copy[s.index] = out.add_stream_from_template(s)
                self.carried["audio_copied" if s.type == "audio" else "subtitles_copied"] += 1
            elif s.type == "audio":
                enc = out.add_stream(_audio_codec_for(dst.suffix.lower()), rate=s.codec_context.sample_rate or 48000)
                enc.layout = s.codec_context.layout
                self.encode[s.index] = (enc, av.AudioResampler(format=enc.format, layout=enc.layout, rate=enc.rate))
                self.carried["audio_reencoded"] += 1
            else:
                log.warning("%s: subtitle codec %s cannot go into %s; dropped", src.name, name, dst.suffix)
        except Exception as e:  # noqa: BLE001
            log.warning("%s: stream %d (%s) not carried over: %s", src.name, s.index, name, e)
            self.copy.pop(s.index, None)
            self.encode.pop(s.index, None)

    def wanted(self) -> set[int]:
        return {*self.copy, *self.encode}

    def mux(self, out, pkt) -> None:
        idx = pkt.stream.index
        if idx in self.encode:
            enc, resampler = self.encode[idx]
            for frame in pkt.decode():
                self._encode(out, enc, resampler.resample(frame))
        else:
            pkt.stream = self.copy[idx]
            out.mux(pkt)

    def flush(self, out) -> None:
        for enc, resampler in self.encode.values():
            self._encode(out, enc, resampler.resample(None))
            out.mux(enc.encode(None))

    @staticmethod
    def _encode(out, enc, frames) -> None:
        for rf in frames:
            rf.pts = None
            out.mux(enc.encode(rf))


def _segment_packets(paths: list[Path]) -> Iterator[tuple[float, int, Any]]:
    """(time, 0, packet) of the segments' video, in order."""
    import av

    for path in paths:
        with av.open(str(path)) as seg:
            yield from _timed(seg.demux(seg.streams.video[0]), 0)


def _source_packets(container, wanted: set[int]) -> Iterator[tuple[float, int, Any]]:
    """(time, 1, packet) of the source's streams in ``wanted``."""
    streams = [s for s in container.streams if s.index in wanted]
    if streams:
        yield from _timed(container.demux(streams), 1)


def _timed(packets, tag: int) -> Iterator[tuple[float, int, Any]]:
    for pkt in packets:
        if pkt.size and pkt.dts is not None:
            yield float(pkt.dts * pkt.time_base), tag, pkt


def _video_stream(out, template):
    """The output's video stream, copied from a segment's. Where the segment's decoder has no encoder of
    its name (AV1 is read by libdav1d), the template's own codec is carried over as it is."""
    import av

    try:
        av.codec.Codec(template.codec_context.codec.name, "w")
    except av.codec.codec.UnknownCodecError:
        return out.add_stream_from_template(template, opaque=True)
    return out.add_stream_from_template(template)


def assemble(src: Path, work: Path, dst: Path, segments: int, rotation: int) -> dict[str, int]:
    """Join ``segments`` finished segments of ``work`` into ``dst`` with the source's audio and
    subtitles; returns what was carried (``audio_copied``, ``audio_reencoded``, ``subtitles_copied``,
    ``video_packets``). Raises PyAV's ``FFmpegError`` when the file cannot be written."""
    import av

    tmp = dst.parent / f".{dst.stem}.tmp{dst.suffix}"
    seg_paths = [work / segment_name(i, dst.name) for i in range(segments)]
    streams = _Streams()
    n = 0
    with av.open(str(seg_paths[0])) as first, open_video(src) as source, av.open(str(tmp), "w") as out:
        vout = _video_stream(out, first.streams.video[0])
        if rotation:
            try:
                vout.set_display_rotation(rotation)
            except Exception as e:  # noqa: BLE001
                log.warning("could not keep the rotation metadata (%s)", e)
        for s in [*source.streams.audio, *source.streams.subtitles]:
            streams.add(src, dst, out, s)
        merged = heapq.merge(_segment_packets(seg_paths), _source_packets(source, streams.wanted()),
                             key=lambda t: (t[0], t[1]))
        for _, tag, pkt in merged:
            if tag == 0:
                pkt.stream = vout
                out.mux(pkt)
                n += 1
            else:
                streams.mux(out, pkt)
        streams.flush(out)
    os.replace(tmp, dst)
    return {**streams.carried, "video_packets": n}
