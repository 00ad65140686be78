"""Perspective rectification of plate crops (``plateocr.rectify``), on plates warped here."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from config import RecognizeConfig
from plateocr.filters import FILTERS
from plateocr.charreader import normalise_plate
from plateocr.recognize import PlateReader
from plateocr.rectify import MARGIN, edge_angle, on_crop_border, order_corners, rectify_plate
from plateocr.segment import segment_plate

HEIGHT = RecognizeConfig().plate_height


def seen_at_angle(plate: np.ndarray, corners: list[tuple[float, float]], size: tuple[int, int]) -> np.ndarray:
    """The plate warped onto ``corners`` (tl, tr, br, bl) of a dark, car-like canvas of ``size`` (w, h)."""
    h, w = plate.shape[:2]
    src = np.float32([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]])
    matrix = cv2.getPerspectiveTransform(src, np.float32(corners))
    canvas = np.full((size[1], size[0], 3), 40, np.uint8)
    cv2.warpPerspective(plate, matrix, size, dst=canvas, borderMode=cv2.BORDER_TRANSPARENT)
    return canvas


# A plate photographed from the side and below: tilted about 17 degrees, its near end taller.
STEEP = [(20, 40), (300, 125), (295, 200), (12, 95)]


def character_heights(view: np.ndarray) -> list[int]:
    return [b.h for b in segment_plate(FILTERS["blur_otsu"](view))]


@pytest.mark.parametrize("text", ["2745BCD", "8093MWX"])
def test_steep_plate_is_rectified_into_seven_tall_characters(rendered_plate, text):
    plate, _ = rendered_plate(text)
    crop = seen_at_angle(plate, STEEP, (310, 215))
    rectified = rectify_plate(crop, HEIGHT)
    assert rectified is not None
    assert rectified.shape[0] == HEIGHT
    # Close to the plate's own proportions once the margin is taken off.
    inner_h = HEIGHT * (1 - 2 * MARGIN)
    aspect = (rectified.shape[1] - 2 * MARGIN * HEIGHT) / inner_h
    true_aspect = plate.shape[1] / plate.shape[0]
    assert abs(aspect - true_aspect) <= 0.2 * true_aspect, (aspect, true_aspect)

    heights = character_heights(normalise_plate(rectified, HEIGHT))
    assert len(heights) == 7
    plain = character_heights(normalise_plate(crop, HEIGHT))
    # The plain view's characters are small (or lost); rectified they fill the plate's height.
    assert np.median(heights) >= 1.5 * (np.median(plain) if plain else 0.0)


def test_plate_cut_by_the_crop_edge_is_still_rectified(rendered_plate):
    """A tight box that cuts the plate's far end: that edge is the crop's, so it is not judged."""
    plate, _ = rendered_plate("5752BCD")
    # The near (left) end leans 25 degrees; the crop's vertical right border cuts the far end.
    canvas = seen_at_angle(plate, [(40, 30), (360, 120), (352, 200), (10, 95)], (370, 215))
    crop = canvas[:, :300]
    rectified = rectify_plate(crop, HEIGHT)
    assert rectified is not None
    assert len(character_heights(normalise_plate(rectified, HEIGHT))) >= 6


def test_no_plate_no_rectification():
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, (80, 240, 3), dtype=np.uint8)
    assert rectify_plate(noise, HEIGHT) is None
    assert rectify_plate(np.full((60, 200, 3), 30, np.uint8), HEIGHT) is None
    assert rectify_plate(np.zeros((5, 5, 3), np.uint8), HEIGHT) is None


def test_plate_filling_the_crop_is_left_alone(rendered_plate):
    plate, _ = rendered_plate("1111BBB")
    assert rectify_plate(plate, HEIGHT) is None


def test_corner_order_and_angles():
    square = np.float32([[10, 0], [0, 10], [10, 10], [0, 0]])
    np.testing.assert_array_equal(order_corners(square), np.float32([[0, 0], [10, 0], [10, 10], [0, 10]]))
    a, b = np.float32([0, 0]), np.float32([10, 0])
    assert edge_angle(a, b, np.float32([0, 5]), np.float32([10, 5])) == pytest.approx(0.0, abs=1e-4)
    assert edge_angle(a, b, np.float32([0, 0]), np.float32([0, 10])) == pytest.approx(90.0, abs=1e-4)
    assert edge_angle(a, b, np.float32([0, 0]), np.float32([10, 10])) == pytest.approx(45.0, abs=1e-3)
    assert on_crop_border(np.float32([99, 3]), np.float32([97.5, 60]), 100, 64)
    assert not on_crop_border(np.float32([90, 3]), np.float32([99, 60]), 100, 64)
    assert on_crop_border(np.float32([3, 0.5]), np.float32([80, 1.5]), 100, 64)


def test_reader_reads_both_views_only_when_rectified(tiny_model, rendered_plate):
    plate, _ = rendered_plate("2745BCD")
    steep = seen_at_angle(plate, STEEP, (310, 215))
    reader = PlateReader(tiny_model)
    assert len(reader.chars.plate_views(steep)) == 2
    assert len(reader.chars.plate_views(plate)) == 1
    assert len(reader.chars.filtered_variants(steep)) == 2 * len(RecognizeConfig().filters)
    plain_only = PlateReader(tiny_model, RecognizeConfig(rectify=False))
    assert len(plain_only.chars.plate_views(steep)) == 1


def test_unknown_filter_is_refused_before_loading(tmp_path):
    with pytest.raises(ValueError, match="unknown filters"):
        PlateReader(tmp_path / "missing.h5", RecognizeConfig(filters=("blur_otsu", "nope")))
