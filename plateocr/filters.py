"""The filter bank: named variants of a grey plate crop, each read and then voted on.

Each filter is a small pure function ``(gray) -> gray | binary`` whose output
keeps the plate's polarity (dark characters on a light plate). Adding a
variant is one function and one line in ``FILTERS``.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

Filter = Callable[[np.ndarray], np.ndarray]


def _otsu(gray: np.ndarray) -> np.ndarray:
    return cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)[1]


def _odd(n: float) -> int:
    k = max(3, int(n))
    return k if k % 2 else k + 1


def _sharpen(gray: np.ndarray, amount: float) -> np.ndarray:
    blurred = cv2.GaussianBlur(gray, (0, 0), 2.0)
    return cv2.addWeighted(gray, 1.0 + amount, blurred, -amount, 0)


def blur_otsu(gray: np.ndarray) -> np.ndarray:
    """Light Gaussian blur, then Otsu."""
    return _otsu(cv2.GaussianBlur(gray, (3, 3), 0))


def open_otsu(gray: np.ndarray) -> np.ndarray:
    """Morphological opening (removes thin dark specks' light halos), then Otsu."""
    return _otsu(cv2.morphologyEx(gray, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8)))


def clahe_otsu(gray: np.ndarray) -> np.ndarray:
    """Local contrast equalisation (CLAHE) for uneven light, then Otsu."""
    return _otsu(cv2.createCLAHE(clipLimit=2.0, tileGridSize=(4, 8)).apply(gray))


def otsu_trunc(gray: np.ndarray) -> np.ndarray:
    """Otsu TRUNC: bright pixels clipped to the threshold, dark strokes kept in grey."""
    return cv2.threshold(gray, 0, 255, cv2.THRESH_TRUNC + cv2.THRESH_OTSU)[1]


def otsu_tozero(gray: np.ndarray) -> np.ndarray:
    """Otsu TOZERO: pixels below the threshold set to black, the plate left in grey."""
    return cv2.threshold(gray, 0, 255, cv2.THRESH_TOZERO + cv2.THRESH_OTSU)[1]


def adaptive_mean(gray: np.ndarray) -> np.ndarray:
    """Mean-adaptive threshold over a window of half the plate height (shadows, gradients)."""
    block = _odd(gray.shape[0] * 0.5)
    return cv2.adaptiveThreshold(gray, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY, block, 10)


def adaptive_gaussian(gray: np.ndarray) -> np.ndarray:
    """Gaussian-adaptive threshold over a window of the plate height."""
    block = _odd(gray.shape[0] * 0.9)
    return cv2.adaptiveThreshold(gray, 255, cv2.ADAPTIVE_THRESH_GAUSSIAN_C, cv2.THRESH_BINARY, block, 8)


def brightness_threshold(gray: np.ndarray) -> np.ndarray:
    """A global threshold set by the crop's brightness: darker plates get a lower cut."""
    mean = float(np.mean(gray))
    cut = mean * (0.75 if mean > 110 else 0.9)
    return np.where(gray > cut, 255, 0).astype(np.uint8)


def sharpen_light(gray: np.ndarray) -> np.ndarray:
    """Unsharp mask, light."""
    return _sharpen(gray, 0.7)


def sharpen_strong(gray: np.ndarray) -> np.ndarray:
    """Unsharp mask, strong (blurred plates)."""
    return _sharpen(gray, 2.0)


def bilateral_sharpen(gray: np.ndarray) -> np.ndarray:
    """Edge-preserving smoothing (bilateral) then sharpening: noise down, strokes kept."""
    return _sharpen(cv2.bilateralFilter(gray, 7, 40, 7), 1.2)


def max_filter(gray: np.ndarray) -> np.ndarray:
    """Grey dilation (3x3 max filter): thins dark strokes, separating touching characters."""
    return _otsu(cv2.dilate(gray, np.ones((3, 3), np.uint8)))


def min_filter(gray: np.ndarray) -> np.ndarray:
    """Grey erosion (3x3 min filter): thickens faint, thin strokes."""
    return _otsu(cv2.erode(gray, np.ones((3, 3), np.uint8)))


FILTERS: dict[str, Filter] = {
    "blur_otsu": blur_otsu,
    "open_otsu": open_otsu,
    "clahe_otsu": clahe_otsu,
    "otsu_trunc": otsu_trunc,
    "otsu_tozero": otsu_tozero,
    "adaptive_mean": adaptive_mean,
    "adaptive_gaussian": adaptive_gaussian,
    "brightness": brightness_threshold,
    "sharpen_light": sharpen_light,
    "sharpen_strong": sharpen_strong,
    "bilateral_sharpen": bilateral_sharpen,
    "max_filter": max_filter,
    "min_filter": min_filter,
}


def filter_bank(names: tuple[str, ...] | list[str]) -> list[Filter]:
    """The filters called ``names``, in that order.

    Raises:
        ValueError: no names, a name twice, or a name not in ``FILTERS``.
    """
    unknown = [n for n in names if n not in FILTERS]
    if unknown:
        raise ValueError(f"unknown filters {unknown}; choose from {', '.join(FILTERS)}")
    if not names or len(set(names)) != len(names):
        raise ValueError(f"a filter bank needs distinct names, got {list(names)}")
    return [FILTERS[n] for n in names]
