"""Plate crop -> the plate alone, seen square-on: its bright quadrilateral warped to a rectangle.

A box around a plate photographed at an angle holds a slanted, sheared plate and a lot of
car; rotating it (``segment.deskew``) levels the text but leaves the characters small and
leaning. The plate's white background is the largest bright region of the crop; the
corners of its convex hull give the perspective transform that undoes both.
"""

from __future__ import annotations

import cv2
import numpy as np

# Saturated blue (OpenCV hue 0-180): the EU band.
BLUE_HUE = (95, 135)
# The bright region is found on a copy of the crop this many pixels high.
WORK_HEIGHT = 192
# The plate covers at least this fraction of the crop (else: not found, keep the crop).
MIN_AREA = 0.2
# A rectified plate is this wide for its height: two-row plates near 1.3 up to long plates near 5.
MIN_ASPECT, MAX_ASPECT = 1.2, 7.0
# Nearly the whole crop: warping would only resize it.
MAX_AREA = 0.85
# Opposite edges of a plate seen at an angle stay this close to parallel (degrees).
MAX_EDGE_ANGLE = 15.0
# The rectified plate keeps this much of its height as a border of the photo on each side.
MARGIN = 0.08


def blue_mask(image_bgr: np.ndarray) -> np.ndarray:
    """Pixels (255) of the EU band's saturated blue."""
    hsv = cv2.cvtColor(image_bgr, cv2.COLOR_BGR2HSV)
    return cv2.inRange(hsv, (BLUE_HUE[0], 90, 40), (BLUE_HUE[1], 255, 255))


def order_corners(points: np.ndarray) -> np.ndarray:
    """Four points as top-left, top-right, bottom-right, bottom-left."""
    pts = points.reshape(-1, 2).astype(np.float32)
    s, d = pts.sum(axis=1), pts[:, 0] - pts[:, 1]
    return np.array([pts[np.argmin(s)], pts[np.argmax(d)], pts[np.argmax(s)], pts[np.argmin(d)]], np.float32)


def quadrilateral(hull: np.ndarray) -> np.ndarray:
    """The four corners of a convex hull: the coarsest polygon approximation with four vertices."""
    perimeter = cv2.arcLength(hull, True)
    for eps in np.linspace(0.01, 0.1, 19):
        approx = cv2.approxPolyDP(hull, float(eps) * perimeter, True)
        if len(approx) <= 4:
            break
    if len(approx) != 4:
        approx = cv2.boxPoints(cv2.minAreaRect(hull))
    return order_corners(approx)


def plate_quad(plate_bgr: np.ndarray) -> np.ndarray | None:
    """Corners (tl, tr, br, bl) of the plate's bright region (with its blue EU band), or None."""
    h, w = plate_bgr.shape[:2]
    gray = cv2.cvtColor(plate_bgr, cv2.COLOR_BGR2GRAY)
    bright = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)[1]
    # The band is part of the plate's outline; without it the hull loses a corner.
    bright |= blue_mask(plate_bgr)
    # Cut thin bright bridges to the surroundings.
    bright = cv2.morphologyEx(bright, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    count, labels, stats, _ = cv2.connectedComponentsWithStats(bright)
    if count < 2:
        return None
    largest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    contours, _ = cv2.findContours((labels == largest).astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    hull = cv2.convexHull(max(contours, key=cv2.contourArea))
    if not MIN_AREA * h * w <= cv2.contourArea(hull) <= MAX_AREA * h * w:
        return None
    return quadrilateral(hull)


def rectify_plate(plate_bgr: np.ndarray, height: int) -> np.ndarray | None:
    """The plate warped square-on to ``height`` pixels high, or None when no plate-like region is found."""
    h, w = plate_bgr.shape[:2]
    if h < 8 or w < 8:
        return None
    scale = WORK_HEIGHT / h
    work = cv2.resize(plate_bgr, (max(8, round(w * scale)), WORK_HEIGHT), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    quad = plate_quad(work)
    if quad is None:
        return None
    work_h, work_w = work.shape[:2]
    tl, tr, br, bl = quad
    quad_w, quad_h = quad_size(quad)
    if quad_h < 4 or not MIN_ASPECT <= quad_w / quad_h <= MAX_ASPECT:
        return None
    # Opposite edges must be near parallel, unless one of them is where the box cut the plate.
    cut = [on_crop_border(a, b, work_w, work_h) for a, b in ((tl, tr), (bl, br), (tl, bl), (tr, br))]
    if not (cut[0] or cut[1]) and edge_angle(tl, tr, bl, br) > MAX_EDGE_ANGLE:
        return None
    if not (cut[2] or cut[3]) and edge_angle(tl, bl, tr, br) > MAX_EDGE_ANGLE:
        return None
    return warp_square_on(plate_bgr, quad / scale, height, MARGIN)


def warp_square_on(image: np.ndarray, quad: np.ndarray, height: int, margin: float) -> np.ndarray:
    """The quadrilateral ``quad`` (TL, TR, BR, BL in ``image`` pixels) warped to a rectangle ``height`` px
    high, as wide as the quad's mean width for its mean height, with ``margin`` of that height around it
    (the image's edge pixels repeated where the margin leaves it)."""
    quad_w, quad_h = quad_size(quad)
    quad_h = max(1e-3, quad_h)
    m = margin * height
    inner_h = height - 2 * m
    inner_w = inner_h * quad_w / quad_h
    out_w = max(8, round(inner_w + 2 * m))
    target = np.array([[m, m], [m + inner_w, m], [m + inner_w, m + inner_h], [m, m + inner_h]], np.float32)
    matrix = cv2.getPerspectiveTransform(np.asarray(quad, np.float32), target)
    return cv2.warpPerspective(image, matrix, (out_w, height), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)


def quad_size(quad: np.ndarray) -> tuple[float, float]:
    """The mean width (top and bottom edges) and mean height (left and right edges) of corners TL, TR, BR, BL."""
    tl, tr, br, bl = np.asarray(quad, np.float32)
    return (np.linalg.norm(tr - tl) + np.linalg.norm(br - bl)) / 2, (np.linalg.norm(bl - tl) + np.linalg.norm(br - tr)) / 2


def on_crop_border(a: np.ndarray, b: np.ndarray, width: int, height: int, tolerance: float = 0.03) -> bool:
    """Whether the edge a-b runs along the crop's border (within ``tolerance`` of its size): the
    box cut the plate there, so the edge's direction is the box's, not the plate's."""
    tx, ty = tolerance * width, tolerance * height
    xs, ys = (a[0], b[0]), (a[1], b[1])
    return max(xs) <= tx or min(xs) >= width - 1 - tx or max(ys) <= ty or min(ys) >= height - 1 - ty


def edge_angle(a0: np.ndarray, a1: np.ndarray, b0: np.ndarray, b1: np.ndarray) -> float:
    """Angle (degrees, 0-90) between the lines a0-a1 and b0-b1."""
    da, db = a1 - a0, b1 - b0
    cos = abs(float(np.dot(da, db))) / max(1e-6, float(np.linalg.norm(da) * np.linalg.norm(db)))
    return float(np.degrees(np.arccos(min(1.0, cos))))
