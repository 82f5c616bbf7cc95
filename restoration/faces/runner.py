"""The face stage made ready for a job: detector, restorer and mask maker resolved once, on first use."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import torch

from .. import precision
from ..color import lab_to_rgb, rgb_to_lab, to_uint8
from ..models import LoadedModel
from ..options import RestoreOptions
from .detect import Face, detect_faces
from .restore import face_network
from .stage import FaceReport, restore_faces, select
from .track import FaceTracker

_checked_lock = threading.Lock()
_checked: dict[int, tuple[LoadedModel, LoadedModel]] = {}  # id(bf16 network) -> (it, the one to use)


class FaceRunner:
    """Runs the face stage for ``options`` on ``device``; ``load(role)`` gives the face model (the job's
    ``Restorer.model``), ``locate(model_id)`` the file of the detector and of the parser. The detector
    and the face-parsing model are loaded once, when first needed: a picture without faces never
    loads the face network."""

    def __init__(self, options: RestoreOptions, device: torch.device, load: Callable[[str], LoadedModel],
                 locate: Callable[[str], Path]):
        self.options, self.device, self._load, self._locate = options, device, load, locate
        self._lock = threading.Lock()
        self._detector: Path | None = None
        self._parser: torch.nn.Module | None = None

    def _face_model(self) -> LoadedModel:
        """The face network; in bf16 on a CPU only once its first faces are within 45 dB of fp32's (a
        512 px photo), else in fp32 (as a model's first half-precision load is checked elsewhere)."""
        model = self._load("face")
        if model.dtype != torch.bfloat16 or model.device.type != "cpu":
            return model
        with _checked_lock:  # once per loaded network in this process
            if id(model) not in _checked:
                from ..models import load_model

                fp32 = load_model(self.options.face, "cpu", "fp32", task="face-restoration")
                keep = precision.keep_half(model.spec.id, model.dtype, face_network(model, 0.0),
                                           face_network(fp32, 0.0), precision.check_picture(512),
                                           precision.CPU_PRECISION_FLOOR_DB)
                _checked[id(model)] = (model, model if keep else fp32)
            return _checked[id(model)][1]

    def detector(self) -> Path:
        with self._lock:
            if self._detector is None:
                self._detector = self._locate("yunet")
            return self._detector

    def _masker(self) -> Callable[[torch.Tensor], torch.Tensor] | None:
        if self.options.face_mask != "parse":
            return None
        with self._lock:
            if self._parser is None:
                from .parse import load_parser

                self._parser = load_parser(self._locate("face-parsing"), self.device)
        from .parse import parse_masks

        return lambda faces: parse_masks(self._parser, faces)

    def __call__(self, source: torch.Tensor, target: torch.Tensor, *, keep_chroma: bool,
                 track: FaceTracker | None = None, cuts: list[bool] | None = None, keep_crops: int = 4
                 ) -> tuple[torch.Tensor, FaceReport]:
        """Faces of ``source`` (N, 3, h, w) restored into ``target`` (N, 3, H, W). ``track`` smooths each
        frame's faces in order and keeps their parsed masks (a video piece's); ``cuts[i]``: a scene starts
        at frame i, and the tracks start again there. ``keep_chroma``: restored faces take the source's
        colour (a gray or toned photo stays so). Raises the weight and model errors of the detector and
        the network."""
        report = FaceReport()
        kept_per_image: list[list[Face]] = []
        for i, frame in enumerate(to_uint8(source)):  # one transfer to the host for the whole batch
            faces = detect_faces(frame, self.detector())
            if track is not None and cuts and cuts[i]:
                track.cut()
            if track is not None:
                faces = track(faces)
            kept, skipped = select(faces, self.options.face_min_size)
            report.found += len(faces)
            report.skipped += skipped
            report.boxes.append([[round(v, 1) for v in f.box] for f in kept])
            kept_per_image.append(kept)
        if not any(kept_per_image):
            return target, report
        network = face_network(self._face_model(), self.options.face_fidelity)
        if keep_chroma:
            network = _with_source_chroma(network)
        out = restore_faces(source, target, kept_per_image, network, self._masker(), keep_crops=keep_crops,
                            report=report, mask_cache=track.masks if track is not None else None)
        return out, report


def _with_source_chroma(network: Callable[[torch.Tensor], torch.Tensor]) -> Callable[[torch.Tensor], torch.Tensor]:
    """``network`` whose faces keep the lightness it restored and the colour of the crop it was given."""

    def run(crops: torch.Tensor) -> torch.Tensor:
        restored = network(crops)
        lab = rgb_to_lab(restored)
        lab[:, 1:] = rgb_to_lab(crops.to(restored))[:, 1:]
        return lab_to_rgb(lab).clamp_(0, 1)

    return run
