"""Face restoration: detect (YuNet), align (five landmarks to the 512 px FFHQ template), restore
(GFPGAN / RestoreFormer / CodeFormer through spandrel), paste back (feathered square or parsed mask).

Modules: ``detect``, ``geometry`` (alignment, crop, paste, masks), ``restore`` (each network's call
contract), ``parse`` (SegFormer face-parsing masks), ``stage`` (``restore_faces``), ``track`` (smoothing
faces over a video's frames).
"""

from .detect import Face, detect_faces
from .stage import FaceReport, restore_faces, select

__all__ = ["Face", "FaceReport", "detect_faces", "restore_faces", "select"]
