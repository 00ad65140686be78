"""Pictures for people: the photo with its plate box and reading drawn on it, and the plate crop read."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from plateocr.plates import crop
from plateocr.results import write_bytes_atomic

if TYPE_CHECKING:
    from plateocr.record import ImageResult

BOX_BGR = (0, 200, 0)
NO_READING_BGR = (0, 0, 255)


def annotate(image: np.ndarray, result: ImageResult) -> np.ndarray:
    """A copy of ``image`` with the plate box and the reading (or why there is none) drawn on it."""
    out = image.copy()
    h, w = out.shape[:2]
    thickness = max(2, round(min(h, w) / 250))
    scale = max(0.5, min(h, w) / 700)
    colour = BOX_BGR if result.text else NO_READING_BGR
    if result.text:
        caption = f"{result.text} ({result.confidence:.2f})"
    elif result.format == "foreign" and result.raw_text:
        caption = f"not Spanish: {result.raw_text}"
    else:
        caption = "no reading" if result.box is not None else "no plate found"
    if result.box is not None:
        b = result.box
        cv2.rectangle(out, (b.x, b.y), (b.x2 - 1, b.y2 - 1), colour, thickness)
        anchor = (b.x, b.y)
    else:
        anchor = (0, 0)
    (tw, th), base = cv2.getTextSize(caption, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
    # The caption sits above the box, or below its top edge when there is no room above.
    x = min(max(0, anchor[0]), max(0, w - tw - 2 * thickness))
    y = anchor[1] - thickness if anchor[1] - th - base - 2 * thickness >= 0 else anchor[1] + th + base + 2 * thickness
    cv2.rectangle(out, (x, y - th - base - thickness), (x + tw + 2 * thickness, y), colour, -1)
    cv2.putText(out, caption, (x + thickness, y - base), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), thickness)
    return out


def write_png(path: Path, image: np.ndarray) -> None:
    """Encode ``image`` as PNG and write it atomically (works with any file name, unlike ``cv2.imwrite``)."""
    ok, data = cv2.imencode(".png", image)
    if not ok:
        raise OSError(f"{path}: cannot encode the image as PNG")
    write_bytes_atomic(path, data.tobytes())


def save_annotated(folder: Path, image: np.ndarray, result: ImageResult, name: str) -> Path:
    """Write ``<folder>/<name>.png``: the photo annotated with its reading."""
    path = Path(folder) / f"{name}.png"
    write_png(path, annotate(image, result))
    return path


def save_crop(folder: Path, image: np.ndarray, result: ImageResult, name: str) -> Path | None:
    """Write ``<folder>/<name>.png``: the plate box the reading came from; None when there is no box."""
    if result.box is None or result.box.w < 1 or result.box.h < 1:
        return None
    path = Path(folder) / f"{name}.png"
    write_png(path, crop(image, result.box))
    return path
