"""Plate crop -> ordered character boxes, by contours, plus deskewing."""

from __future__ import annotations

import cv2
import numpy as np

from config import PLATE_LENGTH
from plateocr.imageio import resize_by
from plateocr.level import sharpest_rotation
from plateocr.plates import Box

# A character is this tall relative to the (tightly cropped, deskewed) plate crop.
MIN_HEIGHT = 0.28
MAX_HEIGHT = 0.95
# Width over height of one character (a '1' is narrow; an 'M' or 'W' is wide).
MIN_ASPECT = 0.08
MAX_ASPECT = 1.15
# Up to three touching characters form one blob this wide; it is split later.
MAX_BLOB_ASPECT = 2.8
# A box this much wider than a typical character of its row holds several.
SPLIT_FACTOR = 1.5
# Fraction of its bounding box a character's strokes cover: the EU band and blobs cover more.
MAX_FILL = 0.92
# Plates are searched for a tilt up to this many degrees either way.
MAX_SKEW = 25.0
# A plate crop narrower than this (width over height) may hold two rows of characters.
TWO_ROW_MAX_ASPECT = 2.6
# Boxes in one row share their height and vertical centre within these tolerances.
HEIGHT_TOLERANCE = 0.25
CENTRE_TOLERANCE = 0.18


def dark_foreground(image: np.ndarray) -> np.ndarray:
    """Binary mask (255) of the dark strokes of a grey or already binary plate image."""
    values = np.flatnonzero(np.bincount(image.ravel(), minlength=256))
    if values.size <= 2:
        binary = np.where(image >= values.max(), 0, 255).astype(np.uint8) if values.size == 2 else image * 0
    else:
        binary = cv2.threshold(image, 0, 255, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)[1]
    return binary


def remove_long_lines(mask: np.ndarray) -> np.ndarray:
    """Erase plate frame lines so characters touching the frame come free."""
    h, w = mask.shape
    horizontal = cv2.morphologyEx(mask, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (max(3, w // 8), 1)))
    vertical = cv2.morphologyEx(mask, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (1, max(3, int(h * 0.97)))))
    return cv2.subtract(mask, cv2.bitwise_or(horizontal, vertical))


def merge_fragments(boxes: list[Box], max_height: float) -> list[Box]:
    """Join pieces of one broken character: boxes that overlap mostly in x and touch vertically.

    Pieces separated by a clear vertical gap (small print under the characters) stay apart.
    Left to right, the first pair that may join is joined, until none may.
    """
    max_gap = 0.06 * max_height
    rects = np.array(sorted(b.as_tuple() for b in boxes), dtype=np.int64).reshape(-1, 4)
    while len(rects) > 1:
        x, y, w, h = rects.T
        x2, y2 = x + w, y + h
        overlap = np.minimum.outer(x2, x2) - np.maximum.outer(x, x)
        gap = np.maximum.outer(y, y) - np.minimum.outer(y2, y2)
        ux = np.minimum.outer(x, x)
        uw = np.maximum.outer(x2, x2) - ux
        uh = np.maximum.outer(y2, y2) - np.minimum.outer(y, y)
        ok = (overlap >= 0.6 * np.minimum.outer(w, w)) & (gap <= max_gap) & (uh <= max_height) & (uw <= MAX_BLOB_ASPECT * uh)
        ok &= np.triu(np.ones_like(ok), k=1)
        pairs = np.argwhere(ok)
        if not len(pairs):
            break
        i, j = pairs[0]
        uy = min(y[i], y[j])
        rects[i] = (ux[i, j], uy, uw[i, j], uh[i, j])
        rects = np.delete(rects, j, axis=0)
    return [Box(*map(int, r)) for r in rects]


def candidate_boxes(mask: np.ndarray) -> list[Box]:
    """Contours (broken strokes joined) whose size, aspect and fill could be a character."""
    h, w = mask.shape
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    pieces = [Box(*cv2.boundingRect(c)) for c in contours]
    pieces = [b for b in pieces if b.h >= 0.08 * h and b.w * b.h >= 0.002 * h * w]
    boxes = []
    for x, y, bw, bh in (b.as_tuple() for b in merge_fragments(pieces, MAX_HEIGHT * h)):
        if not MIN_HEIGHT * h <= bh <= MAX_HEIGHT * h:
            continue
        if not MIN_ASPECT * bh <= bw <= MAX_BLOB_ASPECT * bh:
            continue
        fill = cv2.countNonZero(mask[y : y + bh, x : x + bw]) / float(bw * bh)
        if fill > MAX_FILL and bw > 0.3 * bh:
            continue
        boxes.append(Box(x, y, bw, bh))
    return boxes


def consistent_row(boxes: list[Box], plate_height: int) -> list[Box]:
    """The largest group of boxes sharing height and vertical centre: the characters' row."""
    best: list[Box] = []
    for ref in boxes:
        centre = ref.y + ref.h / 2
        group = [
            b
            for b in boxes
            if abs(b.h - ref.h) <= HEIGHT_TOLERANCE * ref.h
            and abs(b.y + b.h / 2 - centre) <= CENTRE_TOLERANCE * plate_height
        ]
        if len(group) > len(best) or (len(group) == len(best) and ref.h > (best[0].h if best else 0)):
            best = group
    return sorted(best, key=lambda b: b.x)


def split_wide(boxes: list[Box]) -> list[Box]:
    """Split blobs of touching characters into boxes of the row's typical character width."""
    if not boxes:
        return boxes
    singles = [b.w for b in boxes if b.w <= MAX_ASPECT * b.h]
    # The upper quartile: narrow '1's and slivers must not make a 'W' look like two characters.
    typical = float(np.percentile(singles, 75)) if len(singles) >= 3 else 0.55 * float(np.median([b.h for b in boxes]))
    out: list[Box] = []
    for b in boxes:
        parts = max(1, round(b.w / typical)) if b.w > SPLIT_FACTOR * typical else 1
        step = b.w / parts
        out += [Box(b.x + round(i * step), b.y, round(step), b.h) for i in range(parts)]
    return out


def drop_nested(boxes: list[Box]) -> list[Box]:
    """Drop boxes that lie mostly inside another (holes and inner blobs)."""
    keep = []
    for b in boxes:
        inside = any(
            o is not b and o.x <= b.x and o.x2 >= b.x2 and o.y <= b.y and o.y2 >= b.y2 and o.w * o.h > b.w * b.h
            for o in boxes
        )
        if not inside:
            keep.append(b)
    return keep


def segment_characters(image: np.ndarray) -> list[Box]:
    """Character boxes of a plate image (grey or binary, dark characters), sorted left to right."""
    mask = remove_long_lines(dark_foreground(image))
    boxes = drop_nested(candidate_boxes(mask))
    return split_wide(consistent_row(boxes, image.shape[0]))


def split_rows(image: np.ndarray) -> int | None:
    """The row where a two-row plate divides: the emptiest row of the middle band, if clearly empty."""
    mask = remove_long_lines(dark_foreground(image))
    h = mask.shape[0]
    profile = mask.sum(axis=1, dtype=np.float64)
    lo, hi = int(0.3 * h), int(0.7 * h)
    if hi <= lo or profile.max() == 0:
        return None
    cut = lo + int(np.argmin(profile[lo:hi]))
    return cut if profile[cut] <= 0.2 * np.percentile(profile, 90) else None


def segment_plate(image: np.ndarray) -> list[Box]:
    """Character boxes in reading order: one row, or ``NNNN`` over ``AAA`` on a square plate.

    Two rows are tried only when one row gives fewer than seven characters on a
    plate that is not long and thin; the top row's boxes come first.
    """
    boxes = segment_characters(image)
    h, w = image.shape[:2]
    if len(boxes) >= PLATE_LENGTH or w >= TWO_ROW_MAX_ASPECT * h:
        return boxes
    cut = split_rows(image)
    if cut is None:
        return boxes
    top = segment_characters(image[:cut])
    bottom = [Box(b.x, b.y + cut, b.w, b.h) for b in segment_characters(image[cut:])]
    return top + bottom if len(top) >= 4 and len(bottom) >= 3 else boxes


def estimate_skew(gray: np.ndarray, max_angle: float = MAX_SKEW, step: float = 1.0) -> float:
    """Angle (degrees) that best levels the text: the rotation whose row profile is sharpest.

    Text rows give a horizontal projection with strong peaks and gaps when level;
    rotating the dark-stroke mask and maximising the profile's variance finds that.
    """
    mask = remove_long_lines(dark_foreground(gray))
    scale = 48.0 / max(1, mask.shape[0])
    small = resize_by(mask, scale, cv2.INTER_AREA) if scale < 1 else mask
    return sharpest_rotation(
        small, lambda rotated: float(np.var(rotated.sum(axis=1, dtype=np.float64))), max_angle, step, cv2.INTER_NEAREST
    )


def plate_angle(gray: np.ndarray) -> float | None:
    """Tilt (degrees) of the plate's bright background, from the largest bright region's rectangle.

    None when no wide bright region stands out (then the text profile decides).
    """
    h, w = gray.shape
    bright = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)[1]
    bright = cv2.morphologyEx(bright, cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8))
    contours, _ = cv2.findContours(bright, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    if not contours:
        return None
    largest = max(contours, key=cv2.contourArea)
    (_, _), (rw, rh), angle = cv2.minAreaRect(largest)
    if rw < rh:
        rw, rh, angle = rh, rw, angle - 90
    area = cv2.contourArea(largest)
    if not 0.3 * h * w <= area <= 0.85 * h * w or rw < 2.0 * rh:
        return None
    angle = (angle + 90) % 180 - 90
    return float(angle) if abs(angle) <= MAX_SKEW else None


def deskew(gray: np.ndarray) -> np.ndarray:
    """Rotate a plate crop so its characters stand on a horizontal baseline."""
    angle = plate_angle(gray)
    if angle is None:
        angle = estimate_skew(gray)
    if abs(angle) < 0.5:
        return gray
    h, w = gray.shape[:2]
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    return cv2.warpAffine(gray, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
