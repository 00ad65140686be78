"""A plate box -> the plate cut out level: its tilt found in the crop, then rotated away.

A label's or the localiser's box around a plate tilted by some angle holds the plate along a
diagonal, with car above and below its ends. The whole-plate reader reads plates best level and
filling the crop, so each box is also read levelled:

- the tilt is the rotation under which the crop's horizontal edges (the plate's borders, the tops
  and feet of its characters) gather into the fewest rows: the sharpest row profile of the
  vertical gradient's magnitude, found by a one-dimensional search;
- the box is the rotated plate's bounds, so the plate's own width and height follow from the
  box's and the angle, and the level plate is cut out around them.

Where the plate is tilted by more than CHARS_MIN_TILT, the Chars74K reader reads its first levelled
view instead of the box: contour segmentation needs upright characters.

Measured with the default models on the generated tilted and two-row sets, label boxes (seeds 2026
and 7171, 120 plates each):

- the whole-plate reader, fusing the box's views with its levelled views, reads 72 and 80 tilted
  plates exactly where the box's views alone read 60 and 70; two-row 77 and 82 against 70 and 72;
  the level sets and test6Training's 21 photos lose none;
- the Chars74K reader reads 56 of the validation set's tilted plates levelled, 27 as boxed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from plateocr.imageio import resize_by
from plateocr.plates import Box, crop

# The tilts searched (degrees either way) and the search's step.
MAX_TILT = 30.0
# A best rotation at MAX_TILT, the search's edge, may lie beyond it (a plate turned by 30 degrees and
# seen in perspective, or a photo's own lean added to a turn): the search then goes on to WIDE_TILT.
# A tilt found beyond MAX_TILT levels the box only where the plate it gives is a one-row plate's shape,
# at least MIN_WIDE_ASPECT times as wide as tall: a square box (a two-row plate, or a one-row plate in
# steep perspective) finds some level at any angle out there (docs/trust_log.md: measured with and without).
WIDE_TILT = 40.0
MIN_WIDE_ASPECT = 2.5
TILT_STEP = 1.5
# The crop's longer side is shrunk to this many pixels before the search.
WORK_SIZE = 96
# Below this tilt (degrees) the box's own views already see the plate level: no levelled view.
MIN_TILT = 2.0
# Below this tilt the Chars74K reader reads the box and levels it itself (``segment.deskew``). Levelled
# from 2 degrees, it read 15 of test6Training's 21 Spanish photos without labels, 17 as boxed; from
# 12 degrees, 17, and as many of the generated validation sets' plates (seed 7171: tilted 40 and 25
# with and without labels, two-row 26 and 17 against 27 and 15, level 185 and 183 against 184 and 183).
CHARS_MIN_TILT = 12.0
# A levelled plate is at least this share of its width tall: a one-row European plate (520 x 110 mm).
MIN_HEIGHT_SHARE = 110 / 520


def sharpest_rotation(
    image: np.ndarray, score: Callable[[np.ndarray], float], max_angle: float, step: float,
    interpolation: int = cv2.INTER_LINEAR, border: int = cv2.BORDER_CONSTANT, refine: bool = False,
) -> float:
    """The angle in [-max_angle, max_angle] (degrees, ``step`` apart) whose rotation of ``image`` about
    its centre scores highest; of equal scores, the smaller tilt.

    ``refine``: a peak inside the range is moved between its neighbours to the top of the parabola
    through the three scores, so the angle is not rounded to the grid (a search's edge stays exact).
    """
    h, w = image.shape[:2]
    centre = (w / 2, h / 2)
    angles = np.arange(-max_angle, max_angle + step / 2, step)
    scores: list[float] = []
    best = 0
    for i, angle in enumerate(angles):
        matrix = cv2.getRotationMatrix2D(centre, float(angle), 1.0)
        rotated = cv2.warpAffine(image, matrix, (w, h), flags=interpolation, borderMode=border)
        scores.append(score(rotated))
        higher = scores[i] > scores[best] + 1e-9
        as_high_and_less_tilted = abs(scores[i] - scores[best]) <= 1e-9 and abs(angle) < abs(angles[best])
        if i and (higher or as_high_and_less_tilted):
            best = i
    angle = float(angles[best])
    if refine and 0 < best < len(angles) - 1:
        before, peak, after = scores[best - 1], scores[best], scores[best + 1]
        curvature = before - 2.0 * peak + after
        if curvature < 0:
            angle += float(np.clip(0.5 * (before - after) / curvature, -0.5, 0.5)) * step
    return angle


def _row_edge_sharpness(gray: np.ndarray) -> float:
    """How concentrated the vertical gradient is in few rows: the sum of squares of its row profile,
    over the square of its sum (1 / the number of rows it effectively spreads over)."""
    profile = np.abs(cv2.Sobel(gray, cv2.CV_32F, 0, 1, ksize=3)).sum(axis=1, dtype=np.float64)
    total = profile.sum()
    return float((profile**2).sum() / (total * total)) if total > 0 else 0.0


def plate_tilt(crop: np.ndarray) -> float:
    """The angle (degrees, counter-clockwise as ``cv2.getRotationMatrix2D`` turns) that levels the plate in
    ``crop``: searched within MAX_TILT, and on to WIDE_TILT where the best lies at that search's edge."""
    gray = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY) if crop.ndim == 3 else crop
    scale = WORK_SIZE / max(gray.shape[:2])
    small = resize_by(gray, scale, cv2.INTER_AREA).astype(np.float32)
    angle = sharpest_rotation(small, _row_edge_sharpness, MAX_TILT, TILT_STEP, border=cv2.BORDER_REPLICATE, refine=True)
    if abs(angle) >= MAX_TILT:
        angle = sharpest_rotation(small, _row_edge_sharpness, WIDE_TILT, TILT_STEP, border=cv2.BORDER_REPLICATE, refine=True)
    return angle


def level_size(box: Box, angle: float) -> tuple[float, float] | None:
    """The width and height of a plate tilted by ``angle`` whose bounds are ``box``, or None when no
    such plate fits (the box is too square, or too flat, for that tilt).

    A box looser than the plate's bounds (a localiser's box around a turned plate and some of its
    car) gives a plate flatter than any, down to a sliver a few pixels tall; the height is then at
    least a one-row plate's for that width (``MIN_HEIGHT_SHARE``).
    """
    t = np.deg2rad(abs(angle))
    cos, sin, cos2 = np.cos(t), np.sin(t), np.cos(2 * t)
    width = (box.w * cos - box.h * sin) / cos2
    height = (box.h * cos - box.w * sin) / cos2
    if width < 8 or height < 4:
        return None
    return float(width), float(max(height, MIN_HEIGHT_SHARE * width))


@dataclass(frozen=True)
class Levelled:
    """A box's plate cut out level: the tilt found (0 when none) and the views (none when level or unfit)."""

    angle: float
    views: list[np.ndarray]


def levelled_views(image: np.ndarray, box: Box, margins: Sequence[tuple[float, float]]) -> list[np.ndarray]:
    """The plate in ``box`` rotated level and cut out with each (horizontal, vertical) margin, as shares of
    its size on each side; none when it is level already or no tilted plate fits the box."""
    return level_plate(image, box, margins).views


def level_plate(
    image: np.ndarray, box: Box, margins: Sequence[tuple[float, float]], angle: float | None = None
) -> Levelled:
    """``levelled_views`` with the tilt they were cut at; ``angle``: the box's ``plate_tilt`` when already found."""
    if not margins:
        return Levelled(0.0, [])
    angle = plate_tilt(crop(image, box)) if angle is None else angle
    # A best rotation at the search's edge is no level found (a square plate or box turns any way), nor
    # is one beyond MAX_TILT that gives no one-row plate.
    size = level_size(box, angle) if MIN_TILT < abs(angle) < WIDE_TILT else None
    if size is not None and abs(angle) >= MAX_TILT and size[0] < MIN_WIDE_ASPECT * size[1]:
        size = None
    if size is None:
        return Levelled(0.0, [])
    cx, cy = box.x + box.w / 2, box.y + box.h / 2
    rotation = cv2.getRotationMatrix2D((cx, cy), angle, 1.0)
    out = []
    for mx, my in margins:
        w, h = size[0] * (1 + 2 * mx), size[1] * (1 + 2 * my)
        matrix = rotation + np.array([[0.0, 0.0, w / 2 - cx], [0.0, 0.0, h / 2 - cy]])  # the box's centre lands on the view's
        out.append(cv2.warpAffine(image, matrix, (round(w), round(h)), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE))
    return Levelled(angle, out)
