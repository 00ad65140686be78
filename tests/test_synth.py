"""Tests of the synthetic plate generator (``plateocr.synth``)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

import config
from plateocr import synth
from plateocr.errors import SetupError

FONTS = synth.find_fonts()


def _gaps(boxes: list[synth.Box]) -> list[int]:
    return [b[0] - (a[0] + a[2]) for a, b in zip(boxes, boxes[1:])]


def _inside(box: synth.Box, width: int, height: int) -> bool:
    x, y, w, h = box
    return x >= 0 and y >= 0 and w > 0 and h > 0 and x + w <= width and y + h <= height


def test_random_plate_text_is_spanish() -> None:
    rng = np.random.default_rng(0)
    texts = [synth.random_plate_text(rng) for _ in range(500)]
    assert all(config.SPANISH_PLATE.match(text) for text in texts)
    assert len(set(texts)) > 490
    # Every allowed letter turns up, and only those.
    assert set("".join(text[4:] for text in texts)) == set(config.SPANISH_LETTERS)


def test_find_fonts_lists_installed_fonts_best_first() -> None:
    assert FONTS
    assert all(path.is_file() for path in FONTS)
    names = [path.name for path in FONTS]
    assert names == sorted(names, key=synth.FONT_FILES.index)


def test_find_fonts_names_the_packages_when_none_is_installed(tmp_path: Path) -> None:
    with pytest.raises(SetupError) as error:
        synth.find_fonts(tmp_path)
    assert all(package in str(error.value) for package in synth.FONT_PACKAGES)


def test_render_is_deterministic() -> None:
    first = synth.render_plate("1234BCD", np.random.default_rng(7))
    second = synth.render_plate("1234BCD", np.random.default_rng(7))
    other = synth.render_plate("1234BCD", np.random.default_rng(8))
    assert np.array_equal(first.image, second.image)
    assert first.char_boxes == second.char_boxes
    assert not np.array_equal(first.image, other.image) or first.char_boxes != other.char_boxes


def test_render_rejects_wrong_length() -> None:
    with pytest.raises(ValueError):
        synth.render_plate("123BCD", np.random.default_rng(0))


@pytest.mark.parametrize("font", FONTS, ids=[path.stem for path in FONTS])
def test_one_row_boxes_are_ordered_with_a_gap_before_the_letters(font: Path) -> None:
    rng = np.random.default_rng(1)
    for text in ("1111MWW", "8888BCD", synth.random_plate_text(rng), synth.random_plate_text(rng)):
        plate = synth.render_plate(text, rng, font=font)
        height, width = plate.image.shape[:2]
        assert plate.image.dtype == np.uint8 and plate.image.shape == (height, width, 3)
        assert abs(width / height - 520 / 110) < 0.05
        assert plate.text == text
        boxes = plate.char_boxes
        assert len(boxes) == config.PLATE_LENGTH
        assert all(_inside(box, width, height) for box in boxes)
        gaps = _gaps(boxes)
        assert min(gaps) > 0, "boxes are sorted left to right and do not overlap"
        assert gaps[3] > max(gaps[:3] + gaps[4:])
        # Characters fill about 70% of the plate's height.
        assert all(0.6 * height <= h <= 0.8 * height for _, _, _, h in boxes)


def test_char_boxes_hold_dark_ink_on_a_light_plate() -> None:
    plate = synth.render_plate("5678XYZ", np.random.default_rng(2), font=FONTS[0])
    gray = cv2.cvtColor(plate.image, cv2.COLOR_BGR2GRAY)
    for x, y, w, h in plate.char_boxes:
        assert gray[y : y + h, x : x + w].min() < 60
    first_x = plate.char_boxes[0][0]
    # Between the band and the text the plate is light; the band itself is blue.
    assert gray[40:70, first_x - 8 : first_x - 2].mean() > 200
    band = plate.image[10:-10, 8:30].reshape(-1, 3).mean(axis=0)
    assert band[0] > band[2] + 50


def test_two_rows_put_four_digits_above_three_letters() -> None:
    rng = np.random.default_rng(3)
    for _ in range(5):
        plate = synth.render_plate(synth.random_plate_text(rng), rng, two_rows=True)
        height, width = plate.image.shape[:2]
        assert abs(width / height - 280 / 200) < 0.05
        top, bottom = plate.char_boxes[:4], plate.char_boxes[4:]
        assert len(top) == 4 and len(bottom) == 3
        assert all(_inside(box, width, height) for box in plate.char_boxes)
        assert max(y + h for _, y, _, h in top) < min(y for _, y, _, _ in bottom)
        assert min(_gaps(top)) > 0 and min(_gaps(bottom)) > 0


def test_degrade_plate_moves_boxes_with_the_plate() -> None:
    rng = np.random.default_rng(4)
    for width in (40.0, 90.0, 200.0):
        plate = synth.render_plate(synth.random_plate_text(rng), rng)
        degraded = synth.degrade_plate(plate, rng, plate_width=width)
        height, image_w = degraded.image.shape[:2]
        assert degraded.image.dtype == np.uint8 and degraded.image.ndim == 3
        assert degraded.corners.shape == (4, 2)
        assert np.all(degraded.corners >= 0) and np.all(degraded.corners <= [image_w, height])
        plate_w = np.linalg.norm(degraded.corners[1] - degraded.corners[0])
        assert 0.75 * width < plate_w < 1.25 * width
        assert len(degraded.char_boxes) == 7
        centres = [x + w / 2 for x, _, w, _ in degraded.char_boxes]
        assert centres == sorted(centres)
        assert all(_inside(box, image_w + 1, height + 1) for box in degraded.char_boxes)


def test_degrade_is_deterministic_and_sized() -> None:
    plate = synth.render_plate("0000BBB", np.random.default_rng(5))
    first = synth.degrade(plate.image, np.random.default_rng(9))
    second = synth.degrade(plate.image, np.random.default_rng(9))
    assert np.array_equal(first, second)
    assert 40 <= first.shape[1] <= 260


def test_make_scene_is_deterministic() -> None:
    first = synth.make_scene(np.random.default_rng(11), (300, 500))
    second = synth.make_scene(np.random.default_rng(11), (300, 500))
    assert np.array_equal(first.image, second.image)
    assert first.plate_box == second.plate_box and first.text == second.text


@pytest.mark.parametrize(("canvas", "plate_width", "two_rows"), [
    ((416, 416), None, False),
    ((416, 416), 60.0, True),
    ((720, 1280), 300.0, False),
    ((3000, 4000), 400.0, False),
])
def test_make_scene_puts_the_plate_inside_the_canvas(
    canvas: tuple[int, int], plate_width: float | None, two_rows: bool
) -> None:
    scene = synth.make_scene(np.random.default_rng(12), canvas, plate_width=plate_width, two_rows=two_rows)
    height, width = canvas
    assert scene.image.shape == (height, width, 3) and scene.image.dtype == np.uint8
    assert config.SPANISH_PLATE.match(scene.text)
    assert _inside(scene.plate_box, width, height)
    px, py, pw, ph = scene.plate_box
    if plate_width is not None:
        assert 0.75 * plate_width < pw < 1.35 * plate_width
    for x, y, w, h in scene.char_boxes:
        assert px <= x and py <= y and x + w <= px + pw + 1 and y + h <= py + ph + 1


def test_make_scene_uses_the_given_text_and_rejects_a_plate_too_big() -> None:
    scene = synth.make_scene(np.random.default_rng(13), (200, 300), plate_width=100.0, text="4321ZZZ")
    assert scene.text == "4321ZZZ"
    with pytest.raises(ValueError):
        synth.make_scene(np.random.default_rng(13), (200, 300), plate_width=400.0)
