"""Plate boxes: from YOLO label files, scaled to the image's real size, and crops around them."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from plateocr.errors import InputError

log = logging.getLogger(__name__)

PLATE_CLASS = 0


@dataclass(frozen=True)
class Box:
    """An axis-aligned box in pixels: top-left corner, width and height."""

    x: int
    y: int
    w: int
    h: int

    @property
    def x2(self) -> int:
        return self.x + self.w

    @property
    def y2(self) -> int:
        return self.y + self.h

    def as_tuple(self) -> tuple[int, int, int, int]:
        return (self.x, self.y, self.w, self.h)


@dataclass(frozen=True)
class YoloLine:
    """One line of a YOLO label file (normalised centre, width and height)."""

    cls: int
    cx: float
    cy: float
    w: float
    h: float


def parse_yolo_labels(path: Path) -> list[YoloLine]:
    """Read a YOLO label file; malformed lines are logged with the file name and skipped.

    Raises:
        InputError: the file cannot be read or decoded as text.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read label file ({exc})") from exc
    lines: list[YoloLine] = []
    for number, raw in enumerate(text.splitlines(), 1):
        parts = raw.split()
        if not parts:
            continue
        try:
            cls_value = float(parts[0])
            cx, cy, w, h = (float(v) for v in parts[1:5])
            if not cls_value.is_integer() or not all(np.isfinite([cx, cy, w, h])):
                raise ValueError("expected 'class cx cy w h' with an integer class and finite numbers")
            cls = int(cls_value)
        except ValueError as exc:
            log.warning("%s:%d: malformed YOLO line %r skipped (%s)", path, number, raw[:60], exc)
            continue
        if w <= 0 or h <= 0:
            log.warning("%s:%d: empty box skipped", path, number)
            continue
        lines.append(YoloLine(cls, cx, cy, w, h))
    return lines


def yolo_to_box(line: YoloLine, image_width: int, image_height: int) -> Box | None:
    """Scale a normalised YOLO box by the image's own size and clip it; None if nothing is left."""
    x0 = max(0.0, (line.cx - line.w / 2) * image_width)
    y0 = max(0.0, (line.cy - line.h / 2) * image_height)
    x1 = min(float(image_width), (line.cx + line.w / 2) * image_width)
    y1 = min(float(image_height), (line.cy + line.h / 2) * image_height)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return None
    return Box(round(x0), round(y0), round(x1 - x0), round(y1 - y0))


def plate_boxes_from_labels(path: Path, image_width: int, image_height: int) -> list[Box]:
    """Every class-0 (plate) box of a label file, in the image's pixels."""
    boxes = []
    for line in parse_yolo_labels(path):
        if line.cls != PLATE_CLASS:
            continue
        box = yolo_to_box(line, image_width, image_height)
        if box is None:
            log.warning("%s: plate box outside the image skipped", path)
        else:
            boxes.append(box)
    return boxes


def expand_box(box: Box, margin: float, image_width: int, image_height: int) -> Box:
    """Grow a box by ``margin`` of its size on every side, clipped to the image."""
    dx, dy = round(box.w * margin), round(box.h * margin)
    x0, y0 = max(0, box.x - dx), max(0, box.y - dy)
    x1, y1 = min(image_width, box.x2 + dx), min(image_height, box.y2 + dy)
    return Box(x0, y0, x1 - x0, y1 - y0)


def crop(image: np.ndarray, box: Box) -> np.ndarray:
    """The pixels of ``box`` (a view, not a copy)."""
    return image[box.y : box.y2, box.x : box.x2]
