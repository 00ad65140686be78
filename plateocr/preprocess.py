"""Character crop -> model input. The one path shared by training and recognition."""

from __future__ import annotations

import cv2
import numpy as np

from config import PreprocessConfig

# Components smaller than this fraction of the crop's area are noise, not strokes.
_MIN_COMPONENT_FRACTION = 0.01
# Components smaller than this fraction of the largest one, or touching the border, are neighbours.
_KEEP_FRACTION = 0.25


def to_gray(image: np.ndarray) -> np.ndarray:
    """Any 8-bit image (grey, BGR or BGRA) as a single-channel uint8 array."""
    if image.ndim == 2:
        return image
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2GRAY)
    return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)


def binarize_character(gray: np.ndarray) -> np.ndarray:
    """Otsu threshold with polarity normalised: the character is 255, the background 0.

    The background is whichever value covers most of the crop's border, so
    dark-on-light and light-on-dark crops come out the same.
    """
    _, binary = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    border = np.concatenate([binary[0], binary[-1], binary[:, 0], binary[:, -1]])
    if np.count_nonzero(border) * 2 > border.size:
        binary = cv2.bitwise_not(binary)
    return binary


def character_mask(binary: np.ndarray) -> np.ndarray:
    """Keep the character's own strokes: the largest component and its large, inner companions."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
    if count <= 1:
        return binary
    areas = stats[1:, cv2.CC_STAT_AREA]
    largest = int(np.argmax(areas)) + 1
    h, w = binary.shape
    min_area = max(_MIN_COMPONENT_FRACTION * h * w, _KEEP_FRACTION * areas[largest - 1])
    keep = np.zeros(count, dtype=bool)
    keep[largest] = True
    for i in range(1, count):
        x, y, cw, ch, area = stats[i]
        touches = x == 0 or y == 0 or x + cw == w or y + ch == h
        if area >= min_area and not touches:
            keep[i] = True
    return np.where(keep[labels], 255, 0).astype(np.uint8)


def fit_square(mask: np.ndarray, cfg: PreprocessConfig) -> np.ndarray:
    """Tight crop of the strokes, fitted into a ``size`` x ``size`` square (float32 in [0, 1])."""
    size = cfg.size
    ys, xs = np.nonzero(mask)
    if ys.size == 0:
        return np.zeros((size, size), dtype=np.float32)
    crop = mask[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    h, w = crop.shape
    inner = size - 2  # one pixel of background all round, as in a padded crop
    if cfg.fit == "stretch" and w >= cfg.min_aspect * h:
        new_w, new_h = inner, inner
    else:
        scale = inner / max(h, w)
        new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
    resized = cv2.resize(crop, (new_w, new_h), interpolation=cv2.INTER_AREA)
    out = np.zeros((size, size), dtype=np.float32)
    y0, x0 = (size - new_h) // 2, (size - new_w) // 2
    out[y0 : y0 + new_h, x0 : x0 + new_w] = resized.astype(np.float32) / 255.0
    return out


def preprocess_character(image: np.ndarray, cfg: PreprocessConfig) -> np.ndarray:
    """One character crop (grey/BGR, any polarity) -> ``(size, size, 1)`` float32 model input."""
    gray = to_gray(image)
    mask = character_mask(binarize_character(gray))
    return fit_square(mask, cfg)[..., None]


def preprocess_batch(images: list[np.ndarray], cfg: PreprocessConfig) -> np.ndarray:
    """Many crops -> one ``(n, size, size, 1)`` array, ready for a single model call."""
    if not images:
        return np.zeros((0, cfg.size, cfg.size, 1), dtype=np.float32)
    return np.stack([preprocess_character(im, cfg) for im in images])
