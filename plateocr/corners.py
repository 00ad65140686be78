"""Plate crop -> the plate's four corners, found by a small learned model, so the plate can be read square-on.

The whole-plate reader reads a plate best level, square-on and filling its view. Levelling
(``plateocr.level``) undoes the turn but not the perspective; the bright-quadrilateral search
(``plateocr.rectify``) finds the corners only where the plate stands out from everything around
it. Given the plate's true corners (the generator's), warping them square-on reads far more of the
generated tilted and two-row plates than every view the reader had (docs/trust_log.md: measured), so the
corners are learned: a small convolutional model reads the same 64x128 input as the whole-plate
reader (``plateocr.platemodel.plate_input``) and regresses the corners (top-left, top-right,
bottom-right, bottom-left) as shares of the crop's width and height, trained on plates generated on
the fly with their corners known (``plateocr.plategen``: every format, both style families, tilts
up to 30 degrees, perspective, loose, tight, off-centre and clipped crops).

At reading time each box's crop gives four corners; the plate warped square-on from the photo
(``plateocr.rectify.warp_square_on``) is one more view the whole-plate reader reads and fuses
(``PlateReader.read_views``). Its sidecar (``.json``) and ONNX export sit beside the ``.h5``; it is
trained by ``plateocr.cornertrain``.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from config import PlateModelConfig
from plateocr.errors import SetupError
from plateocr.onnxrt import OnnxModel, onnx_path, sidecar_path
from plateocr.platemodel import plate_inputs
from plateocr.rectify import quad_size

KIND = "corner_finder"
# The corner finder reads the whole-plate reader's input (the same function, the same 64x128 stretch).
CORNER_INPUT = PlateModelConfig()
# A found plate must be a plausible quadrilateral: convex, at least this tall in pixels, and its width
# within this many of its heights (a two-row square near 1.2, a long plate near 5).
MIN_PLATE_HEIGHT = 6.0
ASPECT = (0.8, 8.0)


def plausible_quad(quad: np.ndarray) -> bool:
    """Whether four corners (TL, TR, BR, BL) make a convex plate-shaped quadrilateral worth warping."""
    quad = np.asarray(quad, np.float32)
    if not np.all(np.isfinite(quad)) or not cv2.isContourConvex(quad.reshape(-1, 1, 2)):
        return False
    width, height = quad_size(quad)
    return bool(height >= MIN_PLATE_HEIGHT and ASPECT[0] <= width / height <= ASPECT[1])


class CornerFinder:
    """Plate crops in, the plate's corners in each crop's pixels out, all crops in one model call."""

    def __init__(self, model_path: Path, threads: int | None = None) -> None:
        self.model_path = Path(model_path)
        exported, sidecar = onnx_path(self.model_path), sidecar_path(self.model_path)
        if not exported.is_file() or not sidecar.is_file():
            raise SetupError(
                f"{self.model_path}: no corner finder found (its .onnx and .json); train one with "
                f"`python train_corners.py --out {self.model_path}` (or `make model`)"
            )
        try:
            meta = json.loads(sidecar.read_text(encoding="utf-8"))
            ok = isinstance(meta, dict) and meta.get("kind") == KIND
        except json.JSONDecodeError:
            ok = False
        if not ok:
            raise SetupError(f"{sidecar}: not the sidecar of a corner finder")
        self.model = OnnxModel(exported, threads)
        if self.model.input_shape[1:] != (CORNER_INPUT.height, CORNER_INPUT.width, CORNER_INPUT.channels) or self.model.output_shape[1:] != (8,):
            raise SetupError(f"{exported}: model shapes {self.model.input_shape} -> {self.model.output_shape} are not a corner finder's")

    def corners(self, crops: list[np.ndarray]) -> np.ndarray:
        """``(n, 4, 2)`` corners (TL, TR, BR, BL) of the plate in each crop, in that crop's pixels."""
        if not crops:
            return np.zeros((0, 4, 2), np.float32)
        shares = self.model.predict(plate_inputs(crops, CORNER_INPUT)).reshape(-1, 4, 2)
        sizes = np.array([[c.shape[1], c.shape[0]] for c in crops], np.float32)[:, None, :]
        return shares * sizes
