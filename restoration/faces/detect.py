"""Finding faces: OpenCV's YuNet on copies of the picture at several sizes, boxes and five landmarks.

YuNet finds faces of about 10 to 300 px. A copy with its long side at 640 px finds the large faces;
copies at twice that, up to the picture's own size, find the small ones in a large photo. The
detections of all sizes are merged (non-maximum suppression) and mapped back to the picture's pixels.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import ModelLoadError

_BASE = 640  # long side of the first copy
_SCORE = 0.7  # detections below this are dropped
_NMS_IOU = 0.3
_local = threading.local()  # one detector per thread: cv2.FaceDetectorYN keeps state per call


@dataclass
class Face:
    """One face in picture coordinates: ``box`` (x, y, w, h), ``landmarks`` (5, 2) in the order
    image-left eye, image-right eye, nose, mouth left, mouth right, and the detector's ``score``."""

    box: tuple[float, float, float, float]
    landmarks: np.ndarray
    score: float
    track: int | None = field(default=None, compare=False)  # set by a video's face tracker

    @property
    def size(self) -> float:
        """The longer side of the face box, in input pixels."""
        return max(self.box[2], self.box[3])


def _detector(path: Path):
    import cv2

    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns)  # a replaced file is read again
    cache = getattr(_local, "detectors", None)
    if cache is None:
        cache = _local.detectors = {}
    if key not in cache:
        try:
            cache[key] = cv2.FaceDetectorYN.create(str(path), "", (_BASE, _BASE), _SCORE, _NMS_IOU, 5000)
        except cv2.error as e:
            raise ModelLoadError(
                f"{path.name} could not be loaded as the YuNet face detector ({str(e).strip().splitlines()[-1]}); "
                "replace the file (OpenCV 5 needs face_detection_yunet_2026may.onnx) or delete it so it is "
                "downloaded again") from None
    return cache[key]


def _sizes(long: int) -> list[int]:
    """Long sides of the copies the detector sees: 640, then doubling, then the picture itself."""
    sizes = [min(long, _BASE)]
    while sizes[-1] * 2 < long:
        sizes.append(sizes[-1] * 2)
    if sizes[-1] < long:
        sizes.append(long)
    return sizes


def detect_faces(rgb: np.ndarray, detector: Path) -> list[Face]:
    """Faces in ``rgb`` (H, W, 3) uint8, largest first. Raises ``ModelLoadError`` when ``detector``
    is not a YuNet model OpenCV can read."""
    import cv2

    h, w = rgb.shape[:2]
    bgr = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2BGR)
    net = _detector(detector)
    rows = []
    for side in _sizes(max(h, w)):
        f = side / max(h, w)
        size = (max(1, round(w * f)), max(1, round(h * f)))
        img = bgr if size == (w, h) else cv2.resize(bgr, size, interpolation=cv2.INTER_AREA)
        net.setInputSize(size)
        _, found = net.detect(img)
        if found is not None:
            rows.append(found[:, :15] / np.array([f] * 14 + [1], np.float32))
    if not rows:
        return []
    found = np.concatenate(rows)
    keep = cv2.dnn.NMSBoxes(found[:, :4].tolist(), found[:, 14].tolist(), _SCORE, _NMS_IOU)
    faces = [Face(tuple(float(v) for v in found[i, :4]), found[i, 4:14].reshape(5, 2).astype(np.float32),
                  float(found[i, 14])) for i in np.asarray(keep).reshape(-1)]
    return sorted(faces, key=lambda fc: -fc.size)
