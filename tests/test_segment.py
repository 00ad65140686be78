"""Segmentation, deskewing and the filter bank, on plates rendered with OpenCV."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from config import RecognizeConfig
from plateocr.filters import FILTERS
from plateocr.charreader import normalise_plate
from plateocr.segment import deskew, segment_characters

from conftest import BAND_WIDTH

PLATE_TEXTS = ("2745BCD", "8093MWX", "1111BBB")
# The pipeline resizes every plate crop to this height before filtering and segmenting.
HEIGHT = RecognizeConfig().plate_height
CENTRE_TOLERANCE = 3.0  # pixels, at HEIGHT


def resized_gray(plate_bgr: np.ndarray) -> tuple[np.ndarray, float]:
    """The plate in grey at the pipeline's height, and the scale factor applied."""
    h, w = plate_bgr.shape[:2]
    scale = HEIGHT / h
    gray = cv2.cvtColor(plate_bgr, cv2.COLOR_BGR2GRAY)
    return cv2.resize(gray, (round(w * scale), HEIGHT), interpolation=cv2.INTER_AREA), scale


def centres(boxes) -> list[float]:
    return [b.x + b.w / 2 for b in boxes]


def on_background(plate_bgr: np.ndarray, margin: int = 60, value: int = 90) -> np.ndarray:
    """The plate pasted on a darker, car-like surround."""
    h, w = plate_bgr.shape[:2]
    canvas = np.full((h + 2 * margin, w + 2 * margin, 3), value, np.uint8)
    canvas[margin : margin + h, margin : margin + w] = plate_bgr
    return canvas


@pytest.mark.parametrize("text", PLATE_TEXTS)
def test_segment_finds_the_seven_drawn_characters_in_order(rendered_plate, text):
    plate, drawn = rendered_plate(text)
    gray, scale = resized_gray(plate)
    boxes = segment_characters(gray)
    assert len(boxes) == 7
    found = centres(boxes)
    assert found == sorted(found)
    np.testing.assert_allclose(found, [c * scale for c in drawn], atol=CENTRE_TOLERANCE)
    for b in boxes:
        # Each box is a character's height: most of the 70% of the plate they were drawn at.
        assert 0.5 * HEIGHT <= b.h <= 0.8 * HEIGHT


def test_segment_after_the_pipelines_normalisation(rendered_plate):
    plate, drawn = rendered_plate("3690KLN")
    gray = normalise_plate(plate, HEIGHT)
    scale = HEIGHT / plate.shape[0]
    assert gray.ndim == 2 and gray.shape[0] == HEIGHT
    np.testing.assert_allclose(centres(segment_characters(gray)), [c * scale for c in drawn], atol=CENTRE_TOLERANCE)


def test_blue_band_is_not_a_character(rendered_plate):
    plate, _ = rendered_plate("4502FGH")
    gray, scale = resized_gray(plate)
    band_right = BAND_WIDTH * scale
    for b in segment_characters(gray):
        assert b.x > band_right, f"{b} overlaps the EU band (x < {band_right:.0f})"


def test_blank_plate_gives_no_characters():
    blank = np.full((HEIGHT, 450), 230, np.uint8)
    assert segment_characters(blank) == []


def rotated_plate(plate_bgr: np.ndarray, angle: float) -> np.ndarray:
    """The plate on a surround, rotated by ``angle`` degrees about its centre."""
    canvas = on_background(plate_bgr, margin=40)
    h, w = canvas.shape[:2]
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    rotated = cv2.warpAffine(canvas, matrix, (w, h), flags=cv2.INTER_LINEAR, borderValue=(90, 90, 90))
    # A loose crop around the tilted plate, as a YOLO box with margin would give.
    return rotated[10 : h - 10, 20 : w - 20]


@pytest.mark.parametrize("angle", [6.0, -6.0])
def test_deskew_levels_a_tilted_plate(rendered_plate, angle):
    plate, _ = rendered_plate("5281DRT")
    gray, _ = resized_gray(rotated_plate(plate, angle))

    tilted = segment_characters(gray)
    tilted_spread = np.ptp([b.y + b.h / 2 for b in tilted]) if len(tilted) > 1 else 0.0

    level = deskew(gray)
    assert level.shape == gray.shape and level.dtype == np.uint8
    boxes = segment_characters(level)
    assert len(boxes) == 7
    found = centres(boxes)
    assert found == sorted(found)
    # The characters now stand on one baseline; across ~330 px a 6 degree tilt would shift them ~35 px.
    spread = np.ptp([b.y + b.h / 2 for b in boxes])
    assert spread <= 4, f"vertical spread {spread} after deskew (before: {tilted_spread})"


def test_deskew_leaves_a_level_plate_alone(rendered_plate):
    plate, _ = rendered_plate("7734SSZ")
    gray, _ = resized_gray(on_background(plate, margin=20))
    np.testing.assert_array_equal(deskew(gray), gray)


# --------------------------------------------------------------------------- the filter bank


@pytest.fixture(scope="module")
def plate_gray(rendered_plate) -> tuple[np.ndarray, np.ndarray]:
    """A noisy grey plate at the pipeline's height and a mask of its characters' strokes."""
    plate, _ = rendered_plate("9012HJK")
    clean, _ = resized_gray(plate)
    rng = np.random.default_rng(3)
    noisy = np.clip(clean.astype(np.float32) + rng.normal(0, 6, clean.shape), 0, 255).astype(np.uint8)
    strokes = clean < 60
    strokes[:, : round(BAND_WIDTH * HEIGHT / plate.shape[0]) + 2] = False  # the band is dark too
    return noisy, strokes


def test_filter_bank_is_not_empty():
    assert len(FILTERS) >= 5
    assert all(callable(f) for f in FILTERS.values())


@pytest.mark.parametrize("name", sorted(FILTERS))
def test_filter_keeps_shape_dtype_and_is_deterministic(plate_gray, name):
    gray, _ = plate_gray
    before = gray.copy()
    out = FILTERS[name](gray)
    assert out.shape == gray.shape
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(FILTERS[name](gray), out)
    np.testing.assert_array_equal(gray, before)  # pure: the input is not modified


@pytest.mark.parametrize("name", sorted(FILTERS))
def test_filter_keeps_dark_characters_on_a_light_plate(plate_gray, name):
    gray, strokes = plate_gray
    out = FILTERS[name](gray).astype(np.float32)
    plate = (gray > 200) & ~strokes
    assert out[strokes].mean() + 40 < out[plate].mean()


@pytest.mark.parametrize("name", sorted(FILTERS))
def test_every_filter_variant_still_segments_seven_characters(rendered_plate, name):
    plate, drawn = rendered_plate("6048PTV")
    gray = normalise_plate(plate, HEIGHT)
    boxes = segment_characters(FILTERS[name](gray))
    scale = HEIGHT / plate.shape[0]
    np.testing.assert_allclose(centres(boxes), [c * scale for c in drawn], atol=CENTRE_TOLERANCE)
