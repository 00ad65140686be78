"""Find licence-plate candidates in a photo without any trained detector.

Several classic cues propose boxes on a resized working copy of the image:

* ``chars``: blobs shaped like characters (adaptive thresholds at three window sizes), chained
  into text rows of one polarity (a blob of characters run together, as on small or blurred
  plates, completes a row cut into its characters); the plate is grown around a row (or two stacked rows) until
  its plain background ends, and over a blue EU band on its left; a row slanting by
  ``MIN_ROW_TILT`` or more is also proposed as a plate turned with it (its rotated rectangle's bounds);
* ``morph``: black-hat + horizontal gradient, closed into wide blobs of plate shape;
* ``band``: the saturated blue EU band, with the plate extended to its right;
* ``quad``: a light region whose outline is a turned rectangle of a one-row plate's shape, turned level
  and holding a row of dark characters (a tilted plate whose characters the ``chars`` cue did not chain).

Boxes from the last two cues snap to the best text row inside them; the best of them that hold none are
looked at again levelled with their frame's lines cut away, as small or blurred plates' characters run
into the frame (``_framed_text``). Every proposal is then scored
by the same evidence (``FEATURE_NAMES``: aligned characters filling it, contrast, clean margins,
a light background, a blue band on its left), duplicates are suppressed, and the best few are
mapped back to the input's pixels with a small margin. The reader verifies candidates, so recall
in the top few matters more than precision.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from plateocr.imageio import resize_by
from plateocr.level import plate_tilt

logger = logging.getLogger(__name__)

Box = tuple[int, int, int, int]

# Working resolution: long side of the resized copy the cues run on.
MAX_WORK_SIDE = 1280
MIN_WORK_SIDE = 640
# Character-like blobs (sizes in working pixels) from adaptive thresholds with these windows.
THRESHOLD_BLOCKS = (11, 21, 41)
THRESHOLD_OFFSET = 4
MIN_CHAR_HEIGHT = 6
MAX_CHAR_HEIGHT_FRACTION = 0.25
# Blobs are compared with one another this many at a time (``_pairs_along_x``): nesting, links.
PAIR_CHUNK = 512
CHAR_ASPECT = (0.1, 1.15)
CHAR_FILL = (0.12, 0.95)
# Characters that blur or crowd into each other (small plates, tight spacing) leave one blob a few
# characters wide. A blob of character height and fill up to MAX_MERGED_ASPECT times as wide as tall
# is kept apart; where it chains onto the end of a row of whole characters, it joins that row cut
# into equal parts about MERGED_CHAR_PITCH of its height wide, one per character, as long as the
# parts do not outnumber the whole characters. Alone such blobs make no row: texture would.
MAX_MERGED_ASPECT = 4.5
MERGED_CHAR_PITCH = 0.6
# Two blobs chain into one text row when they look like neighbouring characters. On a plate tilted
# by up to 30 degrees the next character sits up to half a height higher or lower, and the boxes of
# its slanted strokes overlap (a negative gap). On the generated tilted set (15-30 degrees) a plate
# box (IoU >= 0.5) is among the top five for 50 of 120 photos with these bounds, against 14 with
# 0.4 and -0.15 (bench/localize_bench.py); the level sets and the test photos keep their recall.
# Proposing slanting rows as turned plates (``_tilted_plate``) and scoring a box by blobs down to
# 0.18 of its height (a plate turned by 25 degrees has a box about four characters tall) raise that
# to 65 of 120 (top one: 20 -> 25); on the validation set (seed 7171) 49 -> 66, two-row 80 -> 79.
ROW_HEIGHT_RATIO = 1.6
ROW_CENTRE_OFFSET = 0.55
ROW_MIN_GAP = -0.6
ROW_MAX_GAP = 1.1
MIN_ROW_CHARS = 3
# Two rows whose characters' centres all lie within this many character heights of one line are one
# plate's row, broken at the gap between a turned plate's digits and letters (``_join_slanting_rows``).
SLANT_LINE_TOLERANCE = 0.25
# A hard shadow edge across a plate wipes out the character it runs through, and the row breaks at a gap
# of one character and more. Two rows on one line whose gap is over ROW_MAX_GAP but at most this many
# character heights, and that hold at most BRIDGED_MAX_CHARS characters together, are also proposed
# (and scored) as one row bridged across the gap; the two rows stay proposals of their own. A chain of
# two characters, too short to be a row, may bridge onto a row too (proposed only).
BRIDGE_MAX_GAP = 2.2
BRIDGED_MAX_CHARS = 9
# A plate's row can run on along its line into lettering or clutter beside it (a turned plate's row is
# chained over gaps a level one would stop at), and a row of a plate and its band is grown into a box around
# both. A row of LONG_ROW[0] to LONG_ROW[1] blobs, longer than a plate's seven, is also proposed as each run of
# WINDOW_CHARS neighbouring characters that is spaced as a Spanish plate's row: its widest step between
# neighbours' centres after its fourth character, and WINDOW_GAP_RATIO times the median of its other steps
# at least (a rendered plate's is 1.4; 1.2 and 1.3 measured the same). Longer rows are texture.
LONG_ROW = (8, 14)
WINDOW_CHARS = 7
WINDOW_GAP_RATIO = 1.25
# Where a plate's plain background cannot be followed, it reaches this far past its text: left and right
# as shares of the text row's length (the left one covers an EU band), above and below of a character's height.
TEXT_TO_PLATE = (0.12, 0.22, 0.08, 0.22)
# A text row slanting by this much (degrees) is also proposed as a plate turned with it.
MIN_ROW_TILT, MAX_ROW_TILT = 6.0, 40.0
# A box is scored by the blobs at least this share of its height tall (snapping to a row needs 0.25).
SCORE_MIN_BLOB_HEIGHT = 0.18
# An upright character's width as a share of its height, to undo the slant's widening of its box.
CHAR_WIDTH_RATIO = 0.55
# A blob narrower than this share of its height is a bar, not a character of a plate's text (only "1" comes
# close): a row made mostly of bars is a grille's slats, a fence or a barcode (feature "bars"). Of the
# proposals for the generated tilted set's first 60 photos, none around the plate holds a bar and 10 % of
# the others are mostly bars.
BAR_ASPECT = 0.3
# Characters that run into the plate's frame (a small or blurred plate whose frame is close to its text) leave
# no character blobs, only one frame-shaped blob: the plate is proposed by shape (``morph``, ``band``) but scores
# as a box without text. The FRAMED_BOXES best-scored such boxes of a one-row plate's shape (FRAMED_ASPECT) are
# looked at again: their dark thresholds (FRAMED_BLOCKS) levelled, lines longer than FRAMED_LINE of the box's
# width cut away, and a row of at least FRAMED_MIN_CHARS characters left proposes the plate again (``_framed_text``).
FRAMED_BOXES = 2
FRAMED_ASPECT = (2.0, 6.5)
FRAMED_BLOCKS = (11, 21)
FRAMED_LINE = 0.3
FRAMED_MIN_CHARS = 5
# A tilted plate whose characters do not chain into a row is still a light turned rectangle: light regions
# (an adaptive threshold over QUAD_BLOCK px, QUAD_OFFSET grey levels above the mean) whose outline fills
# QUAD_FILL of its turned rectangle, of a one-row plate's shape (FRAMED_ASPECT) and at least QUAD_MIN_SIDE px
# tall, are turned level; with QUAD_CHARS dark characters QUAD_CHAR_HEIGHT of its height tall, it is proposed.
# (QUAD_MAX_AREA: at most this share of the photo.)
QUAD_BLOCK, QUAD_OFFSET = 51, 5
QUAD_FILL, QUAD_MIN_SIDE, QUAD_MAX_AREA = 0.8, 10, 0.2
QUAD_CHARS, QUAD_CHAR_HEIGHT = (5, 10), (0.35, 0.95)
# Plate shapes (width / height), loose enough for perspective, two-row plates and squashed photos.
PLATE_ASPECT = (0.9, 8.0)
MORPH_MIN_ASPECT = 1.3
NMS_IOU = 0.45
# Margin added around returned boxes (fraction of width, of height, per side). The reader skips
# extra boxes but cannot read a character cut off: on a generated validation set (seed 7) widening
# from 0.03 to 0.1 read 4 more plates of 300.
OUTPUT_MARGIN = (0.1, 0.1)
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
        source: the cue that proposed it (``chars``, ``morph``, ``band`` or ``quad``).
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


def _areas(boxes: np.ndarray) -> np.ndarray:
    return (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])


def _intersections(boxes: np.ndarray, others: np.ndarray | None = None) -> np.ndarray:
    """``a[i, j]``: the area shared by box i and box j (of ``others``, by default the same boxes)."""
    others = boxes if others is None else others
    ix = np.minimum(boxes[:, None, 2], others[None, :, 2]) - np.maximum(boxes[:, None, 0], others[None, :, 0])
    iy = np.minimum(boxes[:, None, 3], others[None, :, 3]) - np.maximum(boxes[:, None, 1], others[None, :, 1])
    return np.clip(ix, 0, None) * np.clip(iy, 0, None)


def _containment(boxes: np.ndarray, others: np.ndarray) -> np.ndarray:
    """``c[i, j]``: the fraction of box i's area that lies inside box j of ``others``."""
    return _intersections(boxes, others) / np.maximum(_areas(boxes), 1e-6)[:, None]


def _pairs_along_x(
    boxes: np.ndarray, others: np.ndarray, related: Callable[[np.ndarray, np.ndarray], np.ndarray],
    before: float, after: float,
) -> tuple[np.ndarray, np.ndarray]:
    """The index pairs ``(i, j)`` where ``related(boxes, others)[i, j]``, in row-major order, found without
    the full matrix: for a box i, only boxes j starting from ``before`` px left of its left edge to ``after``
    px right of its right edge can be related.

    The boxes are taken ``PAIR_CHUNK`` at a time in order along x, each chunk against the boxes of
    ``others`` starting within those bounds of it, so the memory grows with the blobs near one another
    and not with the square of all of them: a photo of gravel or leaves gives tens of thousands of
    blobs, and 20,000 compared in one matrix took 6 GB and 18 s.
    """
    if len(boxes) == 0 or len(others) == 0:
        return np.zeros(0, np.intp), np.zeros(0, np.intp)
    by_start = np.argsort(others[:, 0], kind="stable")
    starts = others[by_start, 0]
    along = np.argsort(boxes[:, 0], kind="stable")
    rows, cols = [], []
    for first in range(0, len(along), PAIR_CHUNK):
        chunk = along[first : first + PAIR_CHUNK]
        lo = np.searchsorted(starts, boxes[chunk, 0].min() - before, side="left")
        hi = np.searchsorted(starts, boxes[chunk, 2].max() + after, side="right")
        near = by_start[lo:hi]
        r, c = np.nonzero(related(boxes[chunk], others[near]))
        rows.append(chunk[r])
        cols.append(near[c])
    i, j = np.concatenate(rows), np.concatenate(cols)
    order = np.lexsort((j, i))
    return i[order], j[order]


def _nested_pairs(boxes: np.ndarray, others: np.ndarray, share: float) -> tuple[np.ndarray, np.ndarray]:
    """The index pairs ``(i, j)`` of ``_containment(boxes, others) >= share`` (``share`` > 0; ``i == j``
    included when they are the same boxes), without the full matrix (``_pairs_along_x``): a box of
    ``others`` holding part of box i starts at most its own width left of box i and before its right edge."""
    reach = float((others[:, 2] - others[:, 0]).max()) if len(others) else 0.0
    return _pairs_along_x(boxes, others, lambda a, b: _containment(a, b) >= share, reach, 0.0)


def _suppress(boxes: np.ndarray, scores: np.ndarray, threshold: float) -> list[int]:
    """Greedy non-maximum suppression; indices kept, best first."""
    order = list(np.argsort(-scores, kind="stable"))
    if not order:
        return []
    inter = _intersections(boxes)
    areas = _areas(boxes)
    overlaps = inter / np.maximum(areas[:, None] + areas[None, :] - inter, 1e-6)
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
        ``(n, 6)`` array of ``x, y, w, h, area, dark`` where ``dark`` is 1 for blobs darker than
        their surroundings (adaptive thresholds find small, soft characters far more reliably
        than MSER, whose stability test rejects blurred strokes).
    """
    stats = []
    for block in THRESHOLD_BLOCKS:
        for dark, polarity in ((1, cv2.THRESH_BINARY_INV), (0, cv2.THRESH_BINARY)):
            binary = cv2.adaptiveThreshold(
                gray, 255, cv2.ADAPTIVE_THRESH_MEAN_C, polarity, block, THRESHOLD_OFFSET
            )
            count, _, component_stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
            stats.append(np.hstack([component_stats[1:count], np.full((count - 1, 1), dark)]))
    return np.concatenate(stats).astype(np.float32)


def _char_boxes(gray: np.ndarray) -> np.ndarray:
    """Character-like blobs as an ``(n, 6)`` array of ``(x0, y0, x1, y1, dark, merged)``, duplicates removed.

    ``merged`` is 1 for a blob of several characters run together (``MAX_MERGED_ASPECT``), kept
    only where no whole character of its polarity lies inside it.
    """
    height = gray.shape[0]
    max_char_h = max(MIN_CHAR_HEIGHT + 1, MAX_CHAR_HEIGHT_FRACTION * height)
    stats = _blob_stats(gray)
    w, h, area = stats[:, 2], stats[:, 3], stats[:, 4]
    aspect, fill = w / np.maximum(h, 1), area / np.maximum(w * h, 1)
    plausible = (h >= MIN_CHAR_HEIGHT) & (h <= max_char_h) & (fill >= CHAR_FILL[0]) & (fill <= CHAR_FILL[1])
    whole = _unique_blobs(stats[plausible & (aspect >= CHAR_ASPECT[0]) & (aspect <= CHAR_ASPECT[1])], 0)
    merged = _unique_blobs(stats[plausible & (aspect > CHAR_ASPECT[1]) & (aspect <= MAX_MERGED_ASPECT)], 1)
    if len(whole) and len(merged):
        inside, holder = _nested_pairs(whole, merged, 0.7)
        holds_whole = np.zeros(len(merged), bool)
        holds_whole[holder[whole[inside, 4] == merged[holder, 4]]] = True
        merged = merged[~holds_whole]
    return np.concatenate([whole, merged])


def _unique_blobs(stats: np.ndarray, merged: int) -> np.ndarray:
    """Rows of ``_blob_stats`` as ``_char_boxes`` rows (``merged`` in the last column), nested repeats removed."""
    boxes = np.stack(
        [stats[:, 0], stats[:, 1], stats[:, 0] + stats[:, 2], stats[:, 1] + stats[:, 3], stats[:, 5],
         np.full(len(stats), merged, np.float32)], axis=1,
    )
    if len(boxes) == 0:
        return boxes
    # Each window size reports a character again, and the holes of "0" or "B" are blobs too:
    # of nested blobs of about the same height keep the largest (a much taller blob around them
    # is something else, not the same character).
    order = np.argsort(-(boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]), kind="stable")
    boxes = boxes[order]
    heights = boxes[:, 3] - boxes[:, 1]
    inner, outer = _nested_pairs(boxes, boxes, 0.7)
    # Blob ``inner`` repeats a larger one (earlier in the order) that holds it and is at most twice its height.
    duplicate = (outer < inner) & (heights[outer] <= 2.0 * heights[inner])
    if merged:  # a plate's light background, itself a wide blob, holds the dark run of its characters
        duplicate &= boxes[inner, 4] == boxes[outer, 4]
    inner, outer = inner[duplicate], outer[duplicate]  # still in order of ``inner``, as the pairs came
    bounds = np.searchsorted(inner, np.arange(len(boxes) + 1))
    kept = np.zeros(len(boxes), bool)
    for i in range(len(boxes)):
        kept[i] = not kept[outer[bounds[i] : bounds[i + 1]]].any()
    return boxes[kept]


def _split_merged(blob: np.ndarray) -> np.ndarray:
    """A merged blob (a ``_char_boxes`` row) cut into equal parts, one per character it holds."""
    x0, y0, x1, y1 = blob[:4]
    count = max(2, round((x1 - x0) / (MERGED_CHAR_PITCH * (y1 - y0))))
    edges = x0 + (x1 - x0) * np.arange(count + 1) / count
    parts = np.repeat(blob[None], count, axis=0)
    parts[:, 0], parts[:, 2] = edges[:-1], edges[1:]
    return parts


def _find_root(parent: list[int], i: int) -> int:
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = parent[i]
    return i


def _links(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``l[i, j]``: blob ``b[j]`` could be the character right after blob ``a[i]`` in one text row."""
    ha, hb = a[:, 3] - a[:, 1], b[:, 3] - b[:, 1]
    cya, cyb = (a[:, 1] + a[:, 3]) / 2, (b[:, 1] + b[:, 3]) / 2
    mean_h = (ha[:, None] + hb[None, :]) / 2
    ratio = np.maximum(ha[:, None], hb[None, :]) / np.minimum(ha[:, None], hb[None, :])
    gap = b[None, :, 0] - a[:, None, 2]  # j's left minus i's right
    return (
        (a[:, None, 4] == b[None, :, 4])  # one plate's characters are all dark or all light
        & (ratio <= ROW_HEIGHT_RATIO)
        & (np.abs(cya[:, None] - cyb[None, :]) <= ROW_CENTRE_OFFSET * mean_h)
        & (gap >= ROW_MIN_GAP * mean_h)
        & (gap <= ROW_MAX_GAP * mean_h)
        & (b[None, :, 0] > a[:, None, 0])  # j starts right of i: overlapping boxes link one way
    )


def _link_pairs(chars: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The index pairs ``(i, j)`` of ``np.nonzero(_links(chars, chars))``, without the full matrix
    (``_pairs_along_x``): a blob's link starts right of its left edge and at most ROW_MAX_GAP mean
    heights after its right edge (a pixel more, against rounding: the links themselves decide)."""
    reach = ROW_MAX_GAP * float((chars[:, 3] - chars[:, 1]).max()) + 1.0 if len(chars) else 0.0
    return _pairs_along_x(chars, chars, _links, 0.0, reach)


def _text_rows(blobs: np.ndarray) -> list[np.ndarray]:
    """Chains of neighbouring character blobs of similar height, each a ``(k, 6)`` array (``_char_boxes`` rows).

    Whole characters chain into rows; a merged blob that chains onto a row joins it cut into its
    characters (``_split_merged``) while the parts do not outnumber the row's whole characters.
    """
    return _rows_and_pairs(blobs)[0]


def _rows_and_pairs(blobs: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """``_text_rows``, and the chains of two whole characters (too short to be rows) beside them."""
    chars, merged = blobs[blobs[:, 5] == 0], blobs[blobs[:, 5] != 0]
    chains = _chains(chars)
    rows = _join_slanting_rows([chain for chain in chains if len(chain) >= MIN_ROW_CHARS])
    pairs = [chain for chain in chains if len(chain) == 2]
    if not len(merged):
        return rows, pairs
    completed = []
    for row in rows:
        touching = np.flatnonzero(_links(row, merged).any(axis=0) | _links(merged, row).any(axis=1))
        parts = [_split_merged(blob) for blob in merged[touching]]
        if parts and sum(map(len, parts)) <= len(row):
            row = np.concatenate([row, *parts])
        completed.append(row)
    return completed, pairs


def _chains(chars: np.ndarray) -> list[np.ndarray]:
    """Chains of at least two neighbouring whole character blobs."""
    if len(chars) < 2:
        return []
    parent = list(range(len(chars)))
    for i, j in zip(*_link_pairs(chars)):
        ri, rj = _find_root(parent, int(i)), _find_root(parent, int(j))
        if ri != rj:
            parent[ri] = rj
    groups: dict[int, list[int]] = {}
    for i in range(len(chars)):
        groups.setdefault(_find_root(parent, i), []).append(i)
    return [chars[idx] for idx in groups.values() if len(idx) >= 2]


def _join_slanting_rows(rows: list[np.ndarray]) -> list[np.ndarray]:
    """Rows that continue one another along one slanting line, joined: a turned plate's digits and letters.

    A Spanish plate has a wider gap between its digits and its letters. Turned by 20 degrees or so,
    the centres of the characters either side of that gap lie further apart in height than
    ``ROW_CENTRE_OFFSET`` lets neighbours be, and the plate's row broke in two. Two rows join when the
    second starts within ``ROW_MAX_GAP`` heights after the first ends, their characters are alike in
    height and polarity, and all their centres lie within ``SLANT_LINE_TOLERANCE`` heights of one line.
    A cluttered photo holds a hundred rows or more, so the cheap tests screen every pair at once and
    only the pairs that pass them are fitted with a line.
    """
    rows = sorted(rows, key=lambda r: float(r[:, 0].min()))
    while len(rows) > 1:
        pair = next(((i, j) for i, j in _row_pairs(rows) if _on_one_line(rows[i], rows[j])), None)
        if pair is None:
            break
        i, j = pair
        rows = sorted(
            [r for k, r in enumerate(rows) if k not in pair] + [np.concatenate([rows[i], rows[j]])],
            key=lambda r: float(r[:, 0].min()),
        )
    return rows


def _median(values: np.ndarray) -> float:
    """``np.median`` of a short 1-d array, without its overhead (the same value)."""
    ordered = np.sort(values)
    middle = len(ordered) // 2
    return float(ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2)


def _row_pairs(rows: list[np.ndarray], min_gap: float = ROW_MIN_GAP, max_gap: float = ROW_MAX_GAP) -> list[tuple[int, int]]:
    """Index pairs (first, second), in order, of rows alike in height and polarity whose second starts
    between ``min_gap`` and ``max_gap`` character heights after the first ends (by default the row gap:
    ``_join_slanting_rows``' cheap tests)."""
    heights = np.array([_median(r[:, 3] - r[:, 1]) for r in rows], np.float64)
    polarity = np.array([r[0, 4] for r in rows])
    starts = np.array([r[:, 0].min() for r in rows], np.float64)
    ends = np.array([r[:, 2].max() for r in rows], np.float64)
    mean_h = (heights[:, None] + heights[None, :]) / 2
    ratio = np.maximum(heights[:, None], heights[None, :]) / np.maximum(np.minimum(heights[:, None], heights[None, :]), 1e-6)
    gap = starts[None, :] - ends[:, None]  # [i, j]: j's start after i's end
    ok = (
        (polarity[:, None] == polarity[None, :])
        & (ratio <= ROW_HEIGHT_RATIO)
        & (gap >= min_gap * mean_h)
        & (gap <= max_gap * mean_h)
    )
    np.fill_diagonal(ok, False)
    return [(int(i), int(j)) for i, j in zip(*np.nonzero(ok))]


def _bridged_rows(rows: list[np.ndarray], pieces: list[np.ndarray] = ()) -> list[np.ndarray]:
    """Pairs of rows on one line with a gap too wide for neighbours but not for a lost character, each
    joined into one row (``BRIDGE_MAX_GAP``): a plate's row broken where a shadow edge crosses it.

    ``pieces`` (chains of two characters, too short to be rows) may bridge onto a row, not onto each
    other: the two letters left of three where the edge took the third.
    """
    parts = list(rows) + list(pieces)
    if len(parts) < 2:
        return []
    full = len(rows)
    return [
        np.concatenate([parts[i], parts[j]])
        for i, j in _row_pairs(parts, ROW_MAX_GAP, BRIDGE_MAX_GAP)
        if (i < full or j < full) and len(parts[i]) + len(parts[j]) <= BRIDGED_MAX_CHARS
        and _on_one_line(parts[i], parts[j])
    ]


def _row_windows(rows: list[np.ndarray]) -> list[np.ndarray]:
    """The runs of ``WINDOW_CHARS`` neighbouring characters of the rows longer than one plate (``LONG_ROW``)
    that are spaced as a Spanish plate's row (``_has_plate_gap``)."""
    return [run for row in rows if LONG_ROW[0] <= len(row) <= LONG_ROW[1] for run in _plate_runs(row)]


def _plate_runs(row: np.ndarray) -> list[np.ndarray]:
    """The runs of ``WINDOW_CHARS`` neighbouring characters (left to right) of a row spaced as a Spanish plate's."""
    ordered = row[np.argsort(row[:, 0] + row[:, 2], kind="stable")]
    runs = (ordered[k : k + WINDOW_CHARS] for k in range(len(ordered) - WINDOW_CHARS + 1))
    return [run for run in runs if _has_plate_gap(run)]


def _has_plate_gap(run: np.ndarray) -> bool:
    """Whether a run's widest step between neighbours' centres (left to right) comes after its fourth
    character and is ``WINDOW_GAP_RATIO`` times the median of its other steps: a Spanish plate's digits,
    gap, letters. Centres, not box edges, so that it holds for turned rows, whose boxes overlap."""
    centres = np.stack([(run[:, 0] + run[:, 2]) / 2, (run[:, 1] + run[:, 3]) / 2], axis=1)
    steps = np.hypot(*np.diff(centres, axis=0).T)
    return int(np.argmax(steps)) == 3 and steps[3] >= WINDOW_GAP_RATIO * _median(np.delete(steps, 3))


def _on_one_line(first: np.ndarray, second: np.ndarray) -> bool:
    """Whether all the centres of two rows lie within ``SLANT_LINE_TOLERANCE`` character heights of one line."""
    mean_h = (_median(first[:, 3] - first[:, 1]) + _median(second[:, 3] - second[:, 1])) / 2
    line = _centre_line(np.concatenate([first, second]))
    if line is None:
        return False
    cx, cy, slope, intercept = line
    return float(np.abs(cy - (slope * cx + intercept)).max()) <= SLANT_LINE_TOLERANCE * mean_h


def _run_around(profile: np.ndarray, start: int, stop: int, threshold: float) -> tuple[int, int]:
    """The run of ``profile >= threshold`` that contains ``[start, stop)``, grown outwards."""
    low, high = start, stop
    while low > 0 and profile[low - 1] >= threshold:
        low -= 1
    while high < len(profile) and profile[high] >= threshold:
        high += 1
    return low, high


def _plate_from_row(gray: np.ndarray, blue: np.ndarray, row: np.ndarray) -> np.ndarray:
    """Grow a text row into the plate around it, following the plate's plain background.

    The pixels close to the background's grey level (the majority side of an Otsu split of the
    row) are closed over the strokes; the plate is the run of columns and rows around the text
    that this region covers. Where the region runs into the search window's edge (a white plate on
    a white car), the side falls back to a Spanish plate's proportions. A blue EU band just left
    of the plate is included.
    """
    height, width = gray.shape
    x0, y0 = float(row[:, 0].min()), float(row[:, 1].min())
    x1, y1 = float(row[:, 2].max()), float(row[:, 3].max())
    char_h = float(np.median(row[:, 3] - row[:, 1]))
    row_w = x1 - x0
    past = TEXT_TO_PLATE
    box = np.array([x0 - past[0] * row_w, y0 - past[1] * char_h, x1 + past[2] * row_w, y1 + past[3] * char_h], np.float32)
    wx0, wy0 = max(0, int(x0 - 0.5 * row_w)), max(0, int(y0 - 0.9 * char_h))
    wx1, wy1 = min(width, int(np.ceil(x1 + 0.4 * row_w))), min(height, int(np.ceil(y1 + 0.9 * char_h)))
    rx0, ry0, rx1, ry1 = int(x0) - wx0, int(y0) - wy0, int(np.ceil(x1)) - wx0, int(np.ceil(y1)) - wy0
    window = gray[wy0:wy1, wx0:wx1]
    text = window[ry0:ry1, rx0:rx1]
    if text.size >= 16:
        dark, light, light_fraction = _otsu_levels(text)
        # The plate's background is the side with more pixels (strokes are thin).
        level = light if light_fraction >= 0.5 else dark
        tolerance = max(15.0, 0.4 * (light - dark))
        plain = (np.abs(window.astype(np.float32) - level) <= tolerance).astype(np.uint8)
        plain[ry0:ry1, rx0:rx1] = 1
        kernel = _rect_kernel(0.4 * char_h, 0.25 * char_h)
        plain = cv2.morphologyEx(plain, cv2.MORPH_CLOSE, kernel)
        columns = plain[ry0:ry1].mean(axis=0)
        rows = plain[:, rx0:rx1].mean(axis=1)
        left, right = _run_around(columns, rx0, rx1, 0.6)
        top, bottom = _run_around(rows, ry0, ry1, 0.6)
        # A side that reached the window's edge ran into a surround as plain as the plate:
        # keep the default there.
        if left > 0:
            box[0] = wx0 + min(left, rx0 - 0.02 * row_w)
        if right < len(columns):
            box[2] = wx0 + max(right, rx1 + 0.02 * row_w)
        if top > 0:
            box[1] = wy0 + min(top, ry0 - 0.08 * char_h)
        if bottom < len(rows):
            box[3] = wy0 + max(bottom, ry1 + 0.08 * char_h)
    box[0] = _extend_over_band(blue, box, int(y0), int(np.ceil(y1)), row_w)
    return np.clip(box, 0, [width, height, width, height])


def _centre_line(row: np.ndarray) -> tuple[np.ndarray, np.ndarray, float, float] | None:
    """The row's blob centres (x, y) and the line through them (slope, intercept); None for fewer than
    ``MIN_ROW_CHARS`` blobs or blobs all above one another."""
    cx, cy = (row[:, 0] + row[:, 2]) / 2, (row[:, 1] + row[:, 3]) / 2
    if len(row) < MIN_ROW_CHARS or np.ptp(cx) <= 0:
        return None
    slope, intercept = np.polyfit(cx, cy, 1)
    return cx, cy, float(slope), float(intercept)


def _tilted_plate(row: np.ndarray, width: int, height: int) -> np.ndarray | None:
    """The bounds of a plate turned with a slanting text row, or None for a level row.

    The row's slant is the line through its characters' centres. Along and across it the plate
    reaches ``TEXT_TO_PLATE`` past the text; the upright character height is the blobs' (the boxes
    of slanted characters are taller than the characters) with the slant undone.
    """
    line = _centre_line(row)
    if line is None:
        return None
    cx, cy, slope, _ = line
    angle = float(np.arctan(slope))
    if not MIN_ROW_TILT <= abs(np.degrees(angle)) <= MAX_ROW_TILT:
        return None
    cos, sin = np.cos(angle), np.sin(angle)
    char_h = float(np.median(row[:, 3] - row[:, 1])) / (cos + CHAR_WIDTH_RATIO * abs(sin))
    along, across = cx * cos + cy * sin, -cx * sin + cy * cos
    a0, a1 = along.min() - 0.5 * CHAR_WIDTH_RATIO * char_h, along.max() + 0.5 * CHAR_WIDTH_RATIO * char_h
    length, middle = a1 - a0, float(np.median(across))
    past = TEXT_TO_PLATE
    a0, a1 = a0 - past[0] * length, a1 + past[2] * length
    b0, b1 = middle - (0.5 + past[1]) * char_h, middle + (0.5 + past[3]) * char_h
    corners = np.array([[a * cos - b * sin, a * sin + b * cos] for a in (a0, a1) for b in (b0, b1)])
    (x0, y0), (x1, y1) = corners.min(axis=0), corners.max(axis=0)
    return np.clip(np.array([x0, y0, x1, y1], np.float32), 0, [width, height, width, height])


def _extend_over_band(blue: np.ndarray, box: np.ndarray, y0: int, y1: int, row_w: float) -> float:
    """The box's left edge, moved over a narrow blue band (the EU band) that touches it."""
    x0 = int(box[0])
    max_band, max_gap = 0.3 * row_w + 2, 0.06 * row_w + 2
    start = max(0, int(x0 - max_band - max_gap - 2))
    strip = blue[y0:y1, start : x0 + 2]
    if strip.size == 0:
        return float(box[0])
    is_blue = strip.mean(axis=0) >= 0.3 * 255
    near = np.flatnonzero(is_blue[int(max(0, x0 - max_gap - start)) :]) + int(max(0, x0 - max_gap - start))
    if not len(near):
        return float(box[0])
    right = left = int(near[-1])
    while left > 0 and is_blue[left - 1]:
        left -= 1
    # A blue run that fills the whole search strip is a blue car, not a band.
    if (left == 0 and start > 0) or right - left + 1 > max_band:
        return float(box[0])
    return float(min(box[0], start + left))


def _stacked_pairs(rows: list[np.ndarray]) -> list[tuple[int, int]]:
    """Index pairs (upper, lower) of rows that could be the two rows of one plate."""
    if len(rows) < 2:
        return []
    x0 = np.array([row[:, 0].min() for row in rows])
    x1 = np.array([row[:, 2].max() for row in rows])
    heights = np.array([np.median(row[:, 3] - row[:, 1]) for row in rows])
    tops = np.array([np.median(row[:, 1]) for row in rows])
    bottoms = np.array([np.median(row[:, 3]) for row in rows])
    gap = tops[None, :] - bottoms[:, None]  # lower's top minus upper's bottom
    overlap = np.minimum(x1[:, None], x1[None, :]) - np.maximum(x0[:, None], x0[None, :])
    narrower = np.minimum((x1 - x0)[:, None], (x1 - x0)[None, :])
    ratio = np.maximum(heights[:, None], heights[None, :]) / np.minimum(heights[:, None], heights[None, :])
    stacked = (
        (gap > -0.2 * heights[:, None]) & (gap < 0.8 * heights[:, None])
        & (ratio < 1.4) & (overlap > 0.5 * narrower)
    )
    np.fill_diagonal(stacked, False)
    return [(int(i), int(j)) for i, j in zip(*np.nonzero(stacked))]


def _row_candidates(gray: np.ndarray, blue: np.ndarray, rows: list[np.ndarray]) -> list[np.ndarray]:
    """Plates grown around single rows, plus two-row plates from rows stacked one above the other."""
    boxes = [_plate_from_row(gray, blue, row) for row in rows]
    boxes += [box for box in (_tilted_plate(row, *gray.shape[::-1]) for row in rows) if box is not None]
    for upper, lower in _stacked_pairs(rows):
        boxes.append(_plate_from_row(gray, blue, np.concatenate([rows[upper], rows[lower]])))
    return boxes


# --------------------------------------------------------------------------------------------
# Cue: morphology (dark strokes on a light band)
# --------------------------------------------------------------------------------------------


def _rect_kernel(width: float, height: float) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_RECT, (max(3, int(width)), max(3, int(height))))


def _morph_candidates(gray: np.ndarray) -> list[np.ndarray]:
    """Wide blobs of dense vertical strokes, at two character scales."""
    height = gray.shape[0]
    boxes = []
    for char_h in (max(9, height // 40), max(15, height // 18)):
        kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (char_h, char_h))
        blackhat = cv2.morphologyEx(gray, cv2.MORPH_BLACKHAT, kernel)
        grad = np.abs(cv2.Sobel(blackhat, cv2.CV_32F, 1, 0, ksize=3))
        grad = cv2.normalize(grad, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
        grad = cv2.GaussianBlur(grad, (5, 5), 0)
        _, mask = cv2.threshold(grad, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
        mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, _rect_kernel(char_h, char_h / 3))
        mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, _rect_kernel(char_h / 2, char_h / 3))
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        for contour in contours:
            x, y, w, h = cv2.boundingRect(contour)
            if 0.5 * char_h <= h <= 3 * char_h and MORPH_MIN_ASPECT <= w / h <= PLATE_ASPECT[1]:
                boxes.append(np.array([x, y, x + w, y + h], np.float32))
    return boxes


# --------------------------------------------------------------------------------------------
# Cue: light turned rectangles holding a row of characters
# --------------------------------------------------------------------------------------------


def _quad_candidates(gray: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Light regions whose outline is a turned rectangle of a one-row plate's shape holding a row of dark
    characters (``_quad_blobs``): each the rectangle's bounds and the characters' blobs (``_char_boxes`` rows)."""
    height, width = gray.shape
    light = cv2.adaptiveThreshold(gray, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY, QUAD_BLOCK, -QUAD_OFFSET)
    light = cv2.morphologyEx(light, cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8))
    contours, _ = cv2.findContours(light, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    found = []
    for contour in contours:
        area = cv2.contourArea(contour)
        if not 2 * QUAD_MIN_SIDE**2 <= area <= QUAD_MAX_AREA * height * width:
            continue
        rect = cv2.minAreaRect(contour)
        long, short = max(rect[1]), min(rect[1])
        if short < QUAD_MIN_SIDE or area < QUAD_FILL * long * short or not FRAMED_ASPECT[0] <= long / short <= FRAMED_ASPECT[1]:
            continue
        blobs = _quad_blobs(gray, rect)
        if blobs is not None:
            corners = np.clip(cv2.boxPoints(rect), 0, np.float32([width, height]))
            found.append((np.concatenate([corners.min(axis=0), corners.max(axis=0)]).astype(np.float32), blobs))
    return found


def _quad_blobs(gray: np.ndarray, rect: tuple) -> np.ndarray | None:
    """The dark characters of a turned rectangle (``cv2.minAreaRect``), found in it turned level (the threshold
    of ``FRAMED_BLOCKS`` that finds most) and taken back; None unless ``QUAD_CHARS`` of them."""
    (cx, cy), (rw, rh), angle = rect
    if rw < rh:
        rw, rh, angle = rh, rw, angle - 90
    w, h = int(round(rw)), int(round(rh))
    turn = cv2.getRotationMatrix2D((cx, cy), angle, 1.0)
    turn[:, 2] += (w / 2 - cx, h / 2 - cy)
    patch = cv2.warpAffine(gray, turn, (w, h), flags=cv2.INTER_LINEAR)
    best = None
    for block in FRAMED_BLOCKS:
        binary = cv2.adaptiveThreshold(patch, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, block, THRESHOLD_OFFSET)
        count, _, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=4)
        stats = stats[1:count].astype(np.float32)
        tall = stats[:, 3]
        stats = stats[(tall >= QUAD_CHAR_HEIGHT[0] * h) & (tall <= QUAD_CHAR_HEIGHT[1] * h) & _character_shaped(stats)]
        if QUAD_CHARS[0] <= len(stats) <= QUAD_CHARS[1] and (best is None or len(stats) > len(best)):
            best = stats
    return None if best is None else _turned_back(best, turn, (0, 0), *gray.shape[::-1])


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
        box = np.array([x, y, x + plate_w, y + h], np.float32)
        boxes.append(np.clip(box, 0, [width, height, width, height]))
    return boxes


# --------------------------------------------------------------------------------------------
# Scoring
# --------------------------------------------------------------------------------------------


def _row_regularity(row: np.ndarray) -> float:
    """In [0, 1]: how equal the heights of a row's blobs are and how well their centres line up."""
    heights = row[:, 3] - row[:, 1]
    median_h = float(np.median(heights))
    height_spread = float(np.std(heights)) / median_h
    line = _centre_line(row)
    if line is not None:
        centres_x, centres_y, slope, intercept = line
        misalignment = float(np.std(centres_y - (slope * centres_x + intercept))) / median_h
    else:
        misalignment = 0.0
    return 0.5 * (1.0 - min(1.0, height_spread / 0.3)) + 0.5 * (1.0 - min(1.0, misalignment / 0.2))


def _text_quality(rows: list[np.ndarray]) -> float:
    """How much one or two rows look like a plate's characters: about seven, equal, aligned."""
    count = sum(len(row) for row in rows)
    count_score = min(count, 7) / 7.0 - 0.2 * max(0, count - 9)
    return count_score + float(np.mean([_row_regularity(row) for row in rows]))


def _best_text(rows: list[np.ndarray]) -> list[np.ndarray]:
    """The best row (or two bridged across a lost character), with its partner when the two make a two-row plate."""
    options = [[row] for row in rows + _bridged_rows(rows)] + [[rows[i], rows[j]] for i, j in _stacked_pairs(rows)]
    return max(options, key=_text_quality)


def _blobs_in_box(box: np.ndarray, chars: np.ndarray, min_height: float = 0.25) -> np.ndarray:
    """The blobs centred in ``box`` at least ``min_height`` of its height tall, as its characters can be."""
    x0, y0, x1, y1 = box[:4]
    heights = chars[:, 3] - chars[:, 1]
    cx, cy = (chars[:, 0] + chars[:, 2]) / 2, (chars[:, 1] + chars[:, 3]) / 2
    inside = (cx > x0) & (cx < x1) & (cy > y0) & (cy < y1)
    return chars[inside & (heights >= min_height * (y1 - y0)) & (heights <= y1 - y0)]


def _rows_in_box(box: np.ndarray, chars: np.ndarray) -> list[np.ndarray]:
    """Text rows made of the blobs that could be the box's characters."""
    return _text_rows(_blobs_in_box(box, chars))


def _snap_to_row(gray: np.ndarray, blue: np.ndarray, box: np.ndarray, chars: np.ndarray) -> np.ndarray:
    """A loose box replaced by the plate grown around its best text row (unchanged when it has none)."""
    rows = _rows_in_box(box, chars)
    if not rows:
        return box
    return _plate_from_row(gray, blue, np.concatenate(_best_text(rows)))


def _otsu_levels(patch: np.ndarray) -> tuple[float, float, float]:
    """Mean grey levels of the dark and the light side of an Otsu split, and the light side's share."""
    threshold, _ = cv2.threshold(patch, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    light, dark = patch[patch > threshold], patch[patch <= threshold]
    if not light.size or not dark.size:
        level = float(patch.mean())
        return level, level, 1.0
    return float(dark.mean()), float(light.mean()), light.size / patch.size


# Evidence that a box holds a plate; a candidate's score is the weighted sum of its features.
FEATURE_NAMES = (
    "bias", "has_text", "count", "excess", "regularity", "two_rows", "span", "height_fit",
    "contrast", "clean", "band", "light", "aspect_fit", "log_width", "purity", "spaced", "bars",
)
# Set by hand, then nudged (purity, log_width, clean) by ranking the proposals of the non-Spanish
# labelled photos and of synthetic scenes; the Spanish-named photos were kept out of it. "spaced" (a row
# spaced as a Spanish plate's, ``_plate_runs``): 0.5 and 1 measured, docs/trust_log.md. "bars" (the share of the
# text's blobs that are bars, ``BAR_ASPECT``): -1 and -2 measured, docs/trust_log.md.
SCORE_WEIGHTS = {
    "count": 2.0, "excess": -1.0, "regularity": 2.0, "span": 1.0, "height_fit": 1.0, "contrast": 1.5,
    "clean": 0.5, "band": 1.5, "light": 0.5, "purity": 1.0, "log_width": 0.3, "spaced": 0.5,
    "bars": -1.0,
}
WEIGHT_VECTOR = np.array([SCORE_WEIGHTS.get(name, 0.0) for name in FEATURE_NAMES], np.float32)


def _bar_share(blobs: np.ndarray) -> float:
    """The share of a text's blobs that are thin bars (a grille's slats, a fence, a barcode), not characters."""
    aspect = (blobs[:, 2] - blobs[:, 0]) / np.maximum(blobs[:, 3] - blobs[:, 1], 1e-6)
    return float(np.mean(aspect < BAR_ASPECT))


def _features(box: np.ndarray, gray: np.ndarray, blue: np.ndarray, chars: np.ndarray) -> np.ndarray:
    """The ``FEATURE_NAMES`` of a box: its best text (one or two rows), contrast, margins, band, shape."""
    feature = dict.fromkeys(FEATURE_NAMES, 0.0)
    feature["bias"] = 1.0
    x0, y0, x1, y1 = (int(round(v)) for v in box)
    w, h = x1 - x0, y1 - y0
    if w < 8 or h < 4:
        return np.array(list(feature.values()), np.float32)
    left_strip = blue[y0:y1, max(0, x0 - w // 20) : x0 + max(2, w // 6)]
    feature["band"] = min(1.0, 3.0 * float(left_strip.mean()) / 255.0) if left_strip.size else 0.0
    feature["aspect_fit"] = float(PLATE_ASPECT[0] <= w / h <= PLATE_ASPECT[1])
    feature["log_width"] = float(np.log(w / gray.shape[1]))
    blobs = _blobs_in_box(box, chars, SCORE_MIN_BLOB_HEIGHT)
    rows = _text_rows(blobs)
    if not rows:
        dark, light, _ = _otsu_levels(gray[y0:y1, x0:x1])
        feature["contrast"] = 0.25 * (light - dark) / 255.0
        return np.array(list(feature.values()), np.float32)
    text = _best_text(rows)
    text_box = np.concatenate(text)
    rx0, ry0 = int(text_box[:, 0].min()), int(text_box[:, 1].min())
    rx1, ry1 = int(np.ceil(text_box[:, 2].max())), int(np.ceil(text_box[:, 3].max()))
    dark, light, _ = _otsu_levels(gray[ry0:ry1, rx0:rx1])
    # Around a plate's characters lies its plain background; clutter has more clutter around it.
    margins = np.concatenate([gray[y0:ry0, rx0:rx1].ravel(), gray[ry1:y1, rx0:rx1].ravel()])
    feature.update(
        has_text=1.0,
        count=min(len(text_box), 7) / 7.0,
        excess=max(0, len(text_box) - 9) / 5.0,
        regularity=float(np.mean([_row_regularity(row) for row in text])),
        two_rows=float(len(text) == 2),
        span=min(1.0, max(0.0, ((rx1 - rx0) / w - 0.3) / 0.4)),
        height_fit=float(0.4 <= (ry1 - ry0) / h <= 0.95),
        contrast=min(1.0, (light - dark) / 255.0 / 0.4),
        clean=1.0 - min(1.0, float(margins.std()) / max(1.0, 0.5 * (light - dark))) if margins.size else 0.5,
        light=light / 255.0,
        purity=min(1.0, len(text_box) / len(blobs)),
        spaced=float(len(text) == 1 and bool(_plate_runs(text[0]))),
        bars=_bar_share(text_box),
    )
    return np.array(list(feature.values()), np.float32)


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


def _propose(work: np.ndarray) -> tuple[np.ndarray, list[str], np.ndarray]:
    """Proposals on the working copy: ``(n, 4)`` boxes, their cues and ``(n, features)`` evidence."""
    gray = cv2.cvtColor(work, cv2.COLOR_BGR2GRAY)
    blue = _blue_mask(cv2.cvtColor(work, cv2.COLOR_BGR2HSV))
    chars = _char_boxes(gray)
    proposals: list[tuple[np.ndarray, str]] = []
    rows, pairs = _rows_and_pairs(chars)
    extra = _bridged_rows(rows, pairs) + _row_windows(rows)
    proposals += [(box, "chars") for box in _row_candidates(gray, blue, rows + extra)]
    proposals += [(_snap_to_row(gray, blue, box, chars), "morph") for box in _morph_candidates(gray)]
    proposals += [(_snap_to_row(gray, blue, box, chars), "band") for box in _band_candidates(blue)]
    quads = _quad_candidates(gray)
    logger.debug("%d character blobs, %d proposals, %d turned rectangles", len(chars), len(proposals), len(quads))
    if not proposals and not quads:
        return np.zeros((0, 4), np.float32), [], np.zeros((0, len(FEATURE_NAMES)), np.float32)
    boxes = np.stack([box for box, _ in proposals] + [box for box, _ in quads])
    features = np.stack(
        [_features(box, gray, blue, chars) for box, _ in proposals]
        + [_features(box, gray, blue, np.concatenate([chars, blobs])) for box, blobs in quads]
    )
    sources = [source for _, source in proposals] + ["quad"] * len(quads)
    framed = _framed_text(gray, blue, boxes, sources, features, chars)
    if framed:
        boxes = np.concatenate([boxes, np.stack([box for box, _, _ in framed])])
        sources += [source for _, source, _ in framed]
        features = np.concatenate([features, np.stack([f for _, _, f in framed])])
    return boxes, sources, features


def _framed_text(
    gray: np.ndarray, blue: np.ndarray, boxes: np.ndarray, sources: list[str], features: np.ndarray, chars: np.ndarray
) -> list[tuple[np.ndarray, str, np.ndarray]]:
    """Plates found by shape (``morph``, ``band``) whose characters run into their frame, proposed again around
    the characters ``_framed_blobs`` parts from it, with the evidence of those characters.

    Only the ``FRAMED_BOXES`` best-scored textless boxes of a one-row plate's shape (``FRAMED_ASPECT``) are looked at.
    """
    has_text = FEATURE_NAMES.index("has_text")
    aspect = (boxes[:, 2] - boxes[:, 0]) / np.maximum(boxes[:, 3] - boxes[:, 1], 1e-6)
    textless = [
        i for i in np.argsort(-(features @ WEIGHT_VECTOR), kind="stable")
        if sources[i] in ("morph", "band") and features[i, has_text] == 0 and FRAMED_ASPECT[0] <= aspect[i] <= FRAMED_ASPECT[1]
    ]
    found = []
    for i in textless[:FRAMED_BOXES]:
        parted = _framed_blobs(gray, boxes[i])
        if parted is None:
            continue
        blobs = np.concatenate([chars, parted])
        box = _snap_to_row(gray, blue, boxes[i], blobs)
        found.append((box, sources[i], _features(box, gray, blue, blobs)))
    return found


def _framed_blobs(gray: np.ndarray, box: np.ndarray) -> np.ndarray | None:
    """Dark character blobs in a box whose characters touch the plate's frame, or None (fewer than ``FRAMED_MIN_CHARS`` in a row).

    The box's adaptive thresholds are turned level (``level.plate_tilt``), the frame's long horizontal
    lines cut away, and what is left is split into components, mapped back to the working copy.
    """
    height, width = gray.shape
    bw, bh = box[2] - box[0], box[3] - box[1]
    x0, y0 = max(0, int(box[0] - 0.1 * bw)), max(0, int(box[1] - 0.2 * bh))
    x1, y1 = min(width, int(np.ceil(box[2] + 0.1 * bw))), min(height, int(np.ceil(box[3] + 0.2 * bh)))
    patch = gray[y0:y1, x0:x1]
    ph, pw = patch.shape
    if ph < 2 * MIN_CHAR_HEIGHT or pw < 4 * MIN_CHAR_HEIGHT:
        return None
    rotation = cv2.getRotationMatrix2D((pw / 2, ph / 2), plate_tilt(patch), 1.0)
    line = cv2.getStructuringElement(cv2.MORPH_RECT, (max(3, int(FRAMED_LINE * pw)), 1))
    stats = []
    for block in FRAMED_BLOCKS:
        binary = cv2.adaptiveThreshold(patch, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, block, THRESHOLD_OFFSET)
        level = cv2.warpAffine(binary, rotation, (pw, ph), flags=cv2.INTER_NEAREST)
        lines = cv2.dilate(cv2.morphologyEx(level, cv2.MORPH_OPEN, line), np.ones((3, 1), np.uint8))
        count, _, component_stats, _ = cv2.connectedComponentsWithStats(cv2.subtract(level, lines), connectivity=4)
        stats.append(component_stats[1:count].astype(np.float32))
    stats = np.concatenate(stats)
    h = stats[:, 3]
    stats = stats[(h >= MIN_CHAR_HEIGHT) & (h >= 0.25 * bh) & (h <= 0.95 * bh + 2) & _character_shaped(stats)]
    if len(stats) < FRAMED_MIN_CHARS:
        return None
    blobs = _turned_back(stats, rotation, (x0, y0), width, height)
    rows = [row for row in _text_rows(blobs) if len(row) >= FRAMED_MIN_CHARS]
    return np.concatenate(rows) if rows else None


def _character_shaped(stats: np.ndarray) -> np.ndarray:
    """Which ``connectedComponentsWithStats`` rows are shaped as one character: ``CHAR_ASPECT`` as wide as tall,
    ``CHAR_FILL`` of their box inked (the tests of ``_char_boxes``, for blobs found in a levelled patch)."""
    w, h, area = stats[:, 2], stats[:, 3], stats[:, 4]
    aspect, fill = w / np.maximum(h, 1), area / np.maximum(w * h, 1)
    return (aspect >= CHAR_ASPECT[0]) & (aspect <= CHAR_ASPECT[1]) & (fill >= CHAR_FILL[0]) & (fill <= CHAR_FILL[1])


def _turned_back(stats: np.ndarray, turn: np.ndarray, origin: tuple[int, int], width: int, height: int) -> np.ndarray:
    """Dark blobs found in a levelled patch (``connectedComponentsWithStats`` rows) as ``_char_boxes`` rows of the
    working copy: each blob's corners taken back through the 2x3 ``turn`` that levelled the patch cut at ``origin``,
    its box there their bounds (blobs cut off at the copy's edge dropped)."""
    x, y, right, bottom = stats[:, 0], stats[:, 1], stats[:, 0] + stats[:, 2], stats[:, 1] + stats[:, 3]
    corners = np.stack([np.stack(c, axis=1) for c in ((x, y), (right, y), (x, bottom), (right, bottom))], axis=1)
    corners = cv2.transform(corners.astype(np.float32), cv2.invertAffineTransform(turn)) + np.float32(origin)
    corners = np.clip(corners, 0, np.float32([width, height]))
    (left, top), (far, foot) = corners.min(axis=1).T, corners.max(axis=1).T
    ones = np.ones(len(stats), np.float32)
    found = np.stack([left, top, far - left, foot - top, ones, ones], axis=1).astype(np.float32)
    return _unique_blobs(found[(found[:, 2] >= 1) & (found[:, 3] >= MIN_CHAR_HEIGHT)], 0)


def _working_copy(image: np.ndarray) -> tuple[np.ndarray, float]:
    """The image resized to the working resolution, and the scale factor used."""
    scale = _work_scale(*image.shape[:2])
    if scale == 1.0:
        return image, scale
    interpolation = cv2.INTER_AREA if scale < 1.0 else cv2.INTER_LINEAR
    return resize_by(image, scale, interpolation), scale


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
    work, scale = _working_copy(image)
    boxes, sources, features = _propose(work)
    if not len(boxes):
        return []
    scores = features @ WEIGHT_VECTOR
    kept = _suppress(boxes, scores, NMS_IOU)[:max_candidates]
    return [
        Candidate(_to_input_box(boxes[i], scale, width, height), float(scores[i]), sources[i]) for i in kept
    ]
