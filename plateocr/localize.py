"""Find licence-plate candidates in a photo without any trained detector.

Several classic cues propose boxes on a resized working copy of the image:

* ``chars``: blobs shaped like characters (adaptive thresholds), chained into text rows; the plate is grown around
  a row until its light background ends;
* ``morph``: black-hat + horizontal gradient, closed into wide blobs of plate shape;
* ``band``: the saturated blue EU band, with the plate extended to its right.

Every proposal is then scored by the same evidence (aligned characters inside, contrast, a light
background, a blue band on its left, a plate-like shape), duplicates are suppressed, and the best
few are mapped back to the input's pixels. The reader verifies candidates, so recall in the top
few matters more than precision.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import cv2
import numpy as np

logger = logging.getLogger(__name__)

Box = tuple[int, int, int, int]

# Working resolution: long side of the resized copy the cues run on.
MAX_WORK_SIDE = 960
MIN_WORK_SIDE = 640
# Character-like blobs (sizes in working pixels) from adaptive thresholds with these windows.
THRESHOLD_BLOCKS = (11, 21, 41)
THRESHOLD_OFFSET = 4
MIN_CHAR_HEIGHT = 7
MAX_CHAR_HEIGHT_FRACTION = 0.25
CHAR_ASPECT = (0.1, 1.15)
CHAR_FILL = (0.12, 0.95)
# Two blobs chain into one text row when they look like neighbouring characters.
ROW_HEIGHT_RATIO = 1.6
ROW_CENTRE_OFFSET = 0.4
ROW_MAX_GAP = 1.1
MIN_ROW_CHARS = 3
# Plate shapes (width / height), loose enough for perspective, two-row plates and squashed photos.
PLATE_ASPECT = (0.9, 8.0)
NMS_IOU = 0.45
# Margin added around returned boxes (fraction of width, of height, per side).
OUTPUT_MARGIN = (0.03, 0.06)
# Blue EU band in OpenCV HSV (hue 0-180).
BLUE_HUE = (95, 130)
BLUE_MIN_SATURATION = 90
BLUE_MIN_VALUE = 40


@dataclass(frozen=True)
class Candidate:
    """A possible plate.

    Attributes:
        box: ``(x, y, w, h)`` in the input image's pixels.
        score: higher is more plate-like (not a probability).
        source: the cue that proposed it (``chars``, ``morph`` or ``band``).
    """

    box: Box
    score: float
    source: str


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two ``(x, y, w, h)`` boxes (0 when either is empty)."""
    ix = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


# --------------------------------------------------------------------------------------------
# Input handling
# --------------------------------------------------------------------------------------------


def _as_bgr(image: np.ndarray) -> np.ndarray | None:
    """A uint8 3-channel copy of ``image`` or None when it cannot hold a plate."""
    if image is None or image.ndim not in (2, 3) or image.size == 0:
        return None
    if image.dtype != np.uint8:
        scale = 255.0 if image.dtype.kind == "f" and float(np.nanmax(image)) <= 1.0 else 1.0
        image = np.clip(np.nan_to_num(image.astype(np.float32) * scale), 0, 255).astype(np.uint8)
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    channels = image.shape[2]
    if channels == 1:
        return cv2.cvtColor(image[..., 0], cv2.COLOR_GRAY2BGR)
    if channels == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    return image if channels == 3 else None


def _work_scale(height: int, width: int) -> float:
    long_side = max(height, width)
    if long_side > MAX_WORK_SIDE:
        return MAX_WORK_SIDE / long_side
    if long_side < MIN_WORK_SIDE:
        return MIN_WORK_SIDE / long_side
    return 1.0


# --------------------------------------------------------------------------------------------
# Boxes as arrays: rows of (x0, y0, x1, y1) floats
# --------------------------------------------------------------------------------------------


def _pairwise_iou(boxes: np.ndarray, other: np.ndarray) -> np.ndarray:
    ix = np.clip(np.minimum(boxes[:, None, 2], other[None, :, 2]) - np.maximum(boxes[:, None, 0], other[None, :, 0]), 0, None)
    iy = np.clip(np.minimum(boxes[:, None, 3], other[None, :, 3]) - np.maximum(boxes[:, None, 1], other[None, :, 1]), 0, None)
    inter = ix * iy
    area_a = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    area_b = (other[:, 2] - other[:, 0]) * (other[:, 3] - other[:, 1])
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-6)


def _containment(boxes: np.ndarray) -> np.ndarray:
    """``c[i, j]``: the fraction of box i's area that lies inside box j."""
    ix = np.clip(np.minimum(boxes[:, None, 2], boxes[None, :, 2]) - np.maximum(boxes[:, None, 0], boxes[None, :, 0]), 0, None)
    iy = np.clip(np.minimum(boxes[:, None, 3], boxes[None, :, 3]) - np.maximum(boxes[:, None, 1], boxes[None, :, 1]), 0, None)
    area = np.maximum((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]), 1e-6)
    return ix * iy / area[:, None]


def _suppress(boxes: np.ndarray, scores: np.ndarray, threshold: float) -> list[int]:
    """Greedy non-maximum suppression; indices kept, best first."""
    order = list(np.argsort(-scores, kind="stable"))
    if not order:
        return []
    overlaps = _pairwise_iou(boxes, boxes)
    kept: list[int] = []
    for i in order:
        if all(overlaps[i, k] <= threshold for k in kept):
            kept.append(int(i))
    return kept


# --------------------------------------------------------------------------------------------
# Cue: characters chained into rows
# --------------------------------------------------------------------------------------------


def _blob_stats(gray: np.ndarray) -> np.ndarray:
    """Connected components of locally dark and locally light pixels at several window sizes.

    Returns:
        ``(n, 5)`` array of ``x, y, w, h, area`` (adaptive thresholds find small, soft characters
        far more reliably than MSER, whose stability test rejects blurred strokes).
    """
    stats = []
    for block in THRESHOLD_BLOCKS:
        for polarity in (cv2.THRESH_BINARY_INV, cv2.THRESH_BINARY):
            binary = cv2.adaptiveThreshold(
                gray, 255, cv2.ADAPTIVE_THRESH_MEAN_C, polarity, block, THRESHOLD_OFFSET
            )
            count, _, component_stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
            stats.append(component_stats[1:count])
    return np.concatenate(stats).astype(np.float32) if stats else np.zeros((0, 5), np.float32)


def _char_boxes(gray: np.ndarray) -> np.ndarray:
    """Character-like blobs as an ``(n, 4)`` array of ``(x0, y0, x1, y1)``, duplicates removed."""
    height = gray.shape[0]
    max_char_h = max(MIN_CHAR_HEIGHT + 1, MAX_CHAR_HEIGHT_FRACTION * height)
    stats = _blob_stats(gray)
    w, h, area = stats[:, 2], stats[:, 3], stats[:, 4]
    aspect, fill = w / np.maximum(h, 1), area / np.maximum(w * h, 1)
    keep = (
        (h >= MIN_CHAR_HEIGHT) & (h <= max_char_h)
        & (aspect >= CHAR_ASPECT[0]) & (aspect <= CHAR_ASPECT[1])
        & (fill >= CHAR_FILL[0]) & (fill <= CHAR_FILL[1])
    )
    boxes = stats[keep, :4]
    boxes = np.stack([boxes[:, 0], boxes[:, 1], boxes[:, 0] + boxes[:, 2], boxes[:, 1] + boxes[:, 3]], axis=1)
    if len(boxes) == 0:
        return boxes
    # Each window size reports a character again, and the holes of "0" or "B" are blobs too:
    # of nested blobs of about the same height keep the largest (a much taller blob around them
    # is something else, not the same character).
    order = np.argsort(-(boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]), kind="stable")
    boxes = boxes[order]
    heights = boxes[:, 3] - boxes[:, 1]
    duplicate = (_containment(boxes) >= 0.7) & (heights[None, :] <= 2.0 * heights[:, None])
    kept: list[int] = []
    for i in range(len(boxes)):
        if not duplicate[i, kept].any():
            kept.append(i)
    return boxes[kept]


def _find_root(parent: list[int], i: int) -> int:
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = parent[i]
    return i


def _text_rows(chars: np.ndarray) -> list[np.ndarray]:
    """Chains of neighbouring character blobs of similar height, each a ``(k, 4)`` array."""
    if len(chars) < MIN_ROW_CHARS:
        return []
    h = chars[:, 3] - chars[:, 1]
    cy = (chars[:, 1] + chars[:, 3]) / 2
    mean_h = (h[:, None] + h[None, :]) / 2
    ratio = np.maximum(h[:, None], h[None, :]) / np.minimum(h[:, None], h[None, :])
    gap = chars[None, :, 0] - chars[:, None, 2]  # j's left minus i's right
    linked = (
        (ratio <= ROW_HEIGHT_RATIO)
        & (np.abs(cy[:, None] - cy[None, :]) <= ROW_CENTRE_OFFSET * mean_h)
        & (gap >= -0.15 * mean_h)
        & (gap <= ROW_MAX_GAP * mean_h)
    )
    parent = list(range(len(chars)))
    for i, j in zip(*np.nonzero(linked)):
        ri, rj = _find_root(parent, int(i)), _find_root(parent, int(j))
        if ri != rj:
            parent[ri] = rj
    groups: dict[int, list[int]] = {}
    for i in range(len(chars)):
        groups.setdefault(_find_root(parent, i), []).append(i)
    return [chars[idx] for idx in groups.values() if len(idx) >= MIN_ROW_CHARS]


def _run_length(profile: np.ndarray, threshold: float, limit: int, tolerance: int) -> int:
    """How far ``profile`` stays at or above ``threshold``, allowing ``tolerance`` weak steps in a row."""
    weak = 0
    reach = 0
    for step in range(min(limit, len(profile))):
        if profile[step] >= threshold:
            weak = 0
            reach = step + 1
        else:
            weak += 1
            if weak > tolerance:
                break
    return reach


def _plate_from_row(gray: np.ndarray, row: np.ndarray) -> np.ndarray:
    """Grow a text row into the plate around it, following the plate's uniform light background."""
    height, width = gray.shape
    x0, y0 = row[:, 0].min(), row[:, 1].min()
    x1, y1 = row[:, 2].max(), row[:, 3].max()
    char_h = float(np.median(row[:, 3] - row[:, 1]))
    row_w = x1 - x0
    ix0, iy0, ix1, iy1 = int(x0), int(y0), int(np.ceil(x1)), int(np.ceil(y1))
    patch = gray[iy0:iy1, ix0:ix1]
    # Defaults from a Spanish plate's proportions, used where the background cannot be followed.
    left, right = 0.12 * row_w, 0.08 * row_w
    top = bottom = 0.22 * char_h
    if patch.size >= 16:
        threshold, _ = cv2.threshold(patch, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
        light = float(patch[patch > threshold].mean()) if np.any(patch > threshold) else 255.0
        dark = float(patch[patch <= threshold].mean()) if np.any(patch <= threshold) else 0.0
        # The plate's background is the side with more pixels (strokes are thin).
        background_light = np.count_nonzero(patch > threshold) >= patch.size / 2
        level = light if background_light else dark
        tolerance = max(12.0, 0.35 * abs(light - dark))
        similar = (np.abs(gray.astype(np.float32) - level) <= tolerance).astype(np.float32)
        band = similar[iy0:iy1]
        max_left, max_right = int(0.35 * row_w) + 2, int(0.25 * row_w) + 2
        reach_left = _run_length(band[:, ix0 - 1 :: -1].mean(axis=0) if ix0 > 0 else np.zeros(0), 0.55, max_left, 1)
        reach_right = _run_length(band[:, ix1:].mean(axis=0), 0.55, max_right, 1)
        columns = similar[:, ix0:ix1]
        max_vertical = int(0.7 * char_h) + 2
        reach_top = _run_length(columns[iy0 - 1 :: -1].mean(axis=1) if iy0 > 0 else np.zeros(0), 0.6, max_vertical, 0)
        reach_bottom = _run_length(columns[iy1:].mean(axis=1), 0.6, max_vertical, 0)
        # A reach that hit its limit ran into a light surround (a white car): keep the default.
        if reach_left < max_left:
            left = max(reach_left, 0.03 * row_w)
        if reach_right < max_right:
            right = max(reach_right, 0.03 * row_w)
        if reach_top < max_vertical:
            top = max(reach_top, 0.1 * char_h)
        if reach_bottom < max_vertical:
            bottom = max(reach_bottom, 0.1 * char_h)
    box = np.array([x0 - left, y0 - top, x1 + right, y1 + bottom], np.float32)
    return np.clip(box, 0, [width, height, width, height])


def _row_candidates(gray: np.ndarray, rows: list[np.ndarray]) -> list[np.ndarray]:
    """Plates grown around single rows, plus two-row plates from rows stacked one above the other."""
    boxes = [_plate_from_row(gray, row) for row in rows]
    bounds = [(r[:, 0].min(), r[:, 1].min(), r[:, 2].max(), r[:, 3].max(), np.median(r[:, 3] - r[:, 1])) for r in rows]
    for i, (ax0, ay0, ax1, ay1, ah) in enumerate(bounds):
        for j, (bx0, by0, bx1, by1, bh) in enumerate(bounds):
            overlap = min(ax1, bx1) - max(ax0, bx0)
            if (
                i != j and by0 > ay1 and by0 - ay1 < 0.8 * ah and max(ah, bh) / min(ah, bh) < 1.4
                and overlap > 0.5 * min(ax1 - ax0, bx1 - bx0)
            ):
                boxes.append(_plate_from_row(gray, np.concatenate([rows[i], rows[j]])))
    return boxes


# --------------------------------------------------------------------------------------------
# Cue: morphology (dark strokes on a light band)
# --------------------------------------------------------------------------------------------


def _morph_candidates(gray: np.ndarray) -> list[np.ndarray]:
    """Wide blobs of dense vertical strokes, at two character scales."""
    height, width = gray.shape
    boxes = []
    for char_h in (max(9, height // 40), max(15, height // 18)):
        kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (char_h, char_h))
        blackhat = cv2.morphologyEx(gray, cv2.MORPH_BLACKHAT, kernel)
        grad = np.abs(cv2.Sobel(blackhat, cv2.CV_32F, 1, 0, ksize=3))
        grad = cv2.normalize(grad, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
        grad = cv2.GaussianBlur(grad, (5, 5), 0)
        _, mask = cv2.threshold(grad, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
        mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (char_h, max(3, char_h // 3))))
        mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (max(3, char_h // 2), max(3, char_h // 3))))
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        for contour in contours:
            x, y, w, h = cv2.boundingRect(contour)
            if h >= 0.5 * char_h and h <= 3 * char_h and PLATE_ASPECT[0] * 1.5 <= w / h <= PLATE_ASPECT[1]:
                boxes.append(np.array([x, y, x + w, y + h], np.float32))
    return boxes


# --------------------------------------------------------------------------------------------
# Cue: the blue EU band
# --------------------------------------------------------------------------------------------


def _blue_mask(hsv: np.ndarray) -> np.ndarray:
    lower = np.array([BLUE_HUE[0], BLUE_MIN_SATURATION, BLUE_MIN_VALUE], np.uint8)
    upper = np.array([BLUE_HUE[1], 255, 255], np.uint8)
    return cv2.inRange(hsv, lower, upper)


def _band_candidates(blue: np.ndarray) -> list[np.ndarray]:
    """Tall narrow blue blobs, each extended to the right into a plate."""
    height, width = blue.shape
    count, _, stats, _ = cv2.connectedComponentsWithStats(blue, connectivity=8)
    boxes = []
    for x, y, w, h, area in stats[1:count]:
        if h < MIN_CHAR_HEIGHT or not 1.2 <= h / w <= 5.5 or area < 0.5 * w * h:
            continue
        plate_w = float(np.clip(11.0 * w, 1.5 * h, 6.0 * h))
        boxes.append(np.clip(np.array([x, y, x + plate_w, y + h], np.float32), 0, [width, height, width, height]))
    return boxes


# --------------------------------------------------------------------------------------------
# Scoring
# --------------------------------------------------------------------------------------------


def _row_quality(row: np.ndarray) -> float:
    """How much a chain of blobs looks like a plate's characters: count, equal heights, alignment."""
    heights = row[:, 3] - row[:, 1]
    median_h = float(np.median(heights))
    centres_x, centres_y = (row[:, 0] + row[:, 2]) / 2, (row[:, 1] + row[:, 3]) / 2
    count = min(len(row), 7) / 7.0 - 0.1 * max(0, len(row) - 9)
    height_spread = float(np.std(heights)) / median_h
    if len(row) >= 3 and np.ptp(centres_x) > 0:
        slope, intercept = np.polyfit(centres_x, centres_y, 1)
        misalignment = float(np.std(centres_y - (slope * centres_x + intercept))) / median_h
    else:
        misalignment = 0.0
    return count + 0.5 * (1.0 - min(1.0, height_spread / 0.3)) + 0.5 * (1.0 - min(1.0, misalignment / 0.2))


def _rows_in_box(box: np.ndarray, chars: np.ndarray) -> list[np.ndarray]:
    """Text rows made of the blobs centred in ``box`` that are tall enough to be its characters."""
    x0, y0, x1, y1 = box
    heights = chars[:, 3] - chars[:, 1]
    cx, cy = (chars[:, 0] + chars[:, 2]) / 2, (chars[:, 1] + chars[:, 3]) / 2
    inside = (cx > x0) & (cx < x1) & (cy > y0) & (cy < y1) & (heights >= 0.25 * (y1 - y0)) & (heights <= y1 - y0)
    return _text_rows(chars[inside])


def _otsu_levels(patch: np.ndarray) -> tuple[float, float]:
    """Mean grey levels of the dark and the light side of an Otsu split."""
    threshold, _ = cv2.threshold(patch, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    light, dark = patch[patch > threshold], patch[patch <= threshold]
    if not light.size or not dark.size:
        level = float(patch.mean())
        return level, level
    return float(dark.mean()), float(light.mean())


def _score(box: np.ndarray, gray: np.ndarray, blue: np.ndarray, chars: np.ndarray) -> float:
    """Plate evidence for a box: a good row of characters filling it, contrast, clean margins, blue band."""
    x0, y0, x1, y1 = (int(round(v)) for v in box)
    w, h = x1 - x0, y1 - y0
    if w < 8 or h < 4:
        return 0.0
    left_strip = blue[y0:y1, max(0, x0 - w // 20) : x0 + max(2, w // 6)]
    band = min(1.0, 3.0 * float(left_strip.mean()) / 255.0) if left_strip.size else 0.0
    rows = _rows_in_box(box, chars)
    if not rows:
        dark, light = _otsu_levels(gray[y0:y1, x0:x1])
        return 0.5 * (light - dark) / 255.0 + 0.5 * band
    qualities = [_row_quality(row) for row in rows]
    best = int(np.argmax(qualities))
    row = rows[best]
    rx0, ry0 = int(row[:, 0].min()), int(row[:, 1].min())
    rx1, ry1 = int(np.ceil(row[:, 2].max())), int(np.ceil(row[:, 3].max()))
    char_h = float(np.median(row[:, 3] - row[:, 1]))
    # Two-row plates: a second row above or below counts as well.
    stacked = sum(1 for k, other in enumerate(rows) if k != best and abs(
        float(np.median(other[:, 3] - other[:, 1])) - char_h) < 0.3 * char_h)
    span = (rx1 - rx0) / w
    height_ratio = char_h / h * (1 + min(stacked, 1))
    dark, light = _otsu_levels(gray[ry0:ry1, rx0:rx1])
    contrast = (light - dark) / 255.0
    # Around a plate's characters lies its plain background; clutter has more clutter around it.
    margins = np.concatenate([gray[y0:ry0, rx0:rx1].ravel(), gray[ry1:y1, rx0:rx1].ravel()])
    clean = 1.0 - min(1.0, float(margins.std()) / max(1.0, 0.5 * (light - dark))) if margins.size else 0.5
    return (
        2.0 * qualities[best]
        + 1.0 * min(1.0, max(0.0, (span - 0.3) / 0.4))
        + 1.0 * (1.0 if 0.4 <= height_ratio <= 0.95 else 0.0)
        + 1.5 * min(1.0, contrast / 0.4)
        + 1.0 * clean
        + 1.5 * band
        + 0.5 * light / 255.0
        + 0.3 * min(stacked, 1)
    )


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------


def _to_input_box(box: np.ndarray, scale: float, width: int, height: int) -> Box:
    """A working-copy box, widened by ``OUTPUT_MARGIN``, in the input image's integer pixels."""
    bw, bh = box[2] - box[0], box[3] - box[1]
    mx, my = OUTPUT_MARGIN[0] * bw, OUTPUT_MARGIN[1] * bh
    x0 = int(np.clip(np.floor((box[0] - mx) / scale), 0, width))
    y0 = int(np.clip(np.floor((box[1] - my) / scale), 0, height))
    x1 = int(np.clip(np.ceil((box[2] + mx) / scale), 0, width))
    y1 = int(np.clip(np.ceil((box[3] + my) / scale), 0, height))
    return (x0, y0, x1 - x0, y1 - y0)


def find_plate_candidates(image_bgr: np.ndarray, max_candidates: int = 5) -> list[Candidate]:
    """Propose plate boxes, best first.

    Args:
        image_bgr: a BGR (or greyscale / BGRA) image of any size.
        max_candidates: how many candidates to return at most.

    Returns:
        Up to ``max_candidates`` candidates with boxes in ``image_bgr``'s pixels, best first;
        an empty list for images too small to hold a plate.
    """
    image = _as_bgr(image_bgr)
    if image is None or min(image.shape[:2]) < 8 or max_candidates <= 0:
        return []
    height, width = image.shape[:2]
    scale = _work_scale(height, width)
    interpolation = cv2.INTER_AREA if scale < 1.0 else cv2.INTER_LINEAR
    work = cv2.resize(image, None, fx=scale, fy=scale, interpolation=interpolation) if scale != 1.0 else image
    gray = cv2.cvtColor(work, cv2.COLOR_BGR2GRAY)
    blue = _blue_mask(cv2.cvtColor(work, cv2.COLOR_BGR2HSV))
    chars = _char_boxes(gray)

    proposals: list[tuple[np.ndarray, str]] = []
    proposals += [(box, "chars") for box in _row_candidates(gray, _text_rows(chars))]
    proposals += [(box, "morph") for box in _morph_candidates(gray)]
    proposals += [(box, "band") for box in _band_candidates(blue)]
    if not proposals:
        return []
    boxes = np.stack([box for box, _ in proposals])
    scores = np.array([_score(box, gray, blue, chars) for box in boxes], np.float32)
    kept = _suppress(boxes, scores, NMS_IOU)[:max_candidates]
    logger.debug("%d proposals, %d chars, kept %d", len(proposals), len(chars), len(kept))
    return [
        Candidate(box=_to_input_box(boxes[i], scale, width, height), score=float(scores[i]), source=proposals[i][1])
        for i in kept
    ]
