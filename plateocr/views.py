"""Plate box -> the views the whole-plate reader reads of it, and their readings fused into one.

A box is one guess of where the plate is: a label can be loose, a localiser's box off-centre or
tight, and a tilted plate fills its box only along a diagonal. So the whole-plate reader reads
each box as a few crops with other margins (``RecognizeConfig.view_margins``), the first two of
them also warped square-on where the plate's corners are found (``plateocr.rectify``), and fuses
the readings slot by slot: the normalised geometric mean of the views' probabilities, so a character
that most views agree on stands and one that a single view imagines fades. Measured with the
default model on the generated tilted and two-row subsets (labels, ``bench/trust.py``'s sets),
the open reading is exact for 64 and 69 of 120 plates, against 52 and 60 for the surest of the
box and its rectified view.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from config import PlateModelConfig
from plateocr.corners import plausible_quad
from plateocr.platemodel import SlotReading, decode_slots
from plateocr.plates import Box
from plateocr.rectify import rectify_plate, warp_square_on

# Only the first views (the box as it is and the loose one) are also read rectified: rectifying the
# others too reads no more plates of the tilted and two-row sets, for 0.7 ms a view.
RECTIFIED_VIEWS = 2
# A plate warped square-on from the corner finder's corners keeps this share of its height as a border on
# each side (given the generator's true corners, 0.15 read 90 of the generated tilted set's 120 plates,
# 0.08 read 86 and 0.25 read 74).
SQUARE_ON_MARGIN = 0.15
# A square-on view less wide than this for its height is a two-row square's: the corners the finder gives
# the generated two-row plates make quads 1.0-1.6 times as wide as high (5th-95th percentile; views 1.0-1.4
# with their margins), the tilted one-row plates' 3.1-5.4 (views 2.5-4.0); a small one-row plate in a real
# photo (test6's 5752FXX) got corners too tall, a view 1.84 wide, and 2.1 cut it in two. It is also read as
# one row: its top and bottom halves, each with ROW_OVERLAP of its height past the middle, side by side
# (0.12 read 58 of the generated two-row set's 120 plates alone given the finder's corners, 0.08 56, 0.04
# 45, none 36: a row cut through its characters is lost), and fused with the plate's other views
# (``PlateReader.read_views``).
ONE_ROW_MAX_ASPECT = 1.6
ROW_OVERLAP = 0.12
# Probabilities are floored here before their logarithm, so that one view's certain "no" is not infinite.
_FLOOR = 1e-6


def box_views(image: np.ndarray, box: Box, margins: Sequence[tuple[float, float, float, float]]) -> list[np.ndarray]:
    """The crops of ``box`` grown by each (left, top, right, bottom) margin, as shares of its width and
    height (negative: cut in), clipped to the image; a crop that would be empty is the box itself."""
    height, width = image.shape[:2]
    out = []
    for left, top, right, bottom in margins:
        x0 = max(0, round(box.x - left * box.w))
        y0 = max(0, round(box.y - top * box.h))
        x1 = min(width, round(box.x2 + right * box.w))
        y1 = min(height, round(box.y2 + bottom * box.h))
        if x1 - x0 < 2 or y1 - y0 < 2:
            x0, y0, x1, y1 = box.x, box.y, box.x2, box.y2
        out.append(image[y0:y1, x0:x1])
    return out


def plate_views(
    image: np.ndarray, box: Box, margins: Sequence[tuple[float, float, float, float]], rectify_height: int = 0
) -> list[np.ndarray]:
    """Every view of ``box``: its crops at ``margins``, then the first RECTIFIED_VIEWS of them square-on
    where their plate's corners are found (``rectify_height`` > 0: warped to that height)."""
    crops = box_views(image, box, margins)
    if rectify_height <= 0:
        return crops
    warped = [rectify_plate(c, rectify_height) for c in crops[:RECTIFIED_VIEWS]]
    return crops + [w for w in warped if w is not None]


def square_on_view(image: np.ndarray, box: Box, corners: np.ndarray, height: int) -> np.ndarray | None:
    """The plate whose ``corners`` (TL, TR, BR, BL) the corner finder found in ``box``'s crop, warped square-on
    from the whole image (so a plate the box cuts keeps its pixels), ``height`` px high; None where the
    corners make no plausible plate (``plateocr.corners.plausible_quad``)."""
    if not plausible_quad(corners):
        return None
    return warp_square_on(image, np.asarray(corners, np.float32) + np.float32([box.x, box.y]), height, SQUARE_ON_MARGIN)


def one_row_view(view: np.ndarray) -> np.ndarray | None:
    """A two-row square's square-on ``view`` as one row: its top half beside its bottom half (each
    ``ROW_OVERLAP`` of the height past the middle); None for a view as wide as a one-row plate's."""
    height, width = view.shape[:2]
    if width >= ONE_ROW_MAX_ASPECT * height:
        return None
    half, overlap = height // 2, round(ROW_OVERLAP * height)
    return np.hstack([view[: half + overlap], view[height - half - overlap :]])


def fuse_slots(readings: Sequence[SlotReading], cfg: PlateModelConfig) -> SlotReading:
    """One reading from several views of the same plate: per slot, the normalised geometric mean of
    the views' probabilities (a product of equally trusted experts, tempered by their number)."""
    if len(readings) == 1:
        return readings[0]
    mean_log = np.mean([np.log(np.maximum(r.probs, _FLOOR)) for r in readings], axis=0)
    return decode_slots(mean_log[None], cfg)[0]
