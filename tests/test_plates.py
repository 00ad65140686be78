"""YOLO label parsing, scaling to the image's real size, margins and crops."""

from __future__ import annotations

import logging
from pathlib import Path

import conftest
import numpy as np
import pytest

from plateocr.errors import InputError
from plateocr.plates import Box, crop, expand_box, parse_yolo_labels, plate_boxes_from_labels, yolo_to_box

WIDTH, HEIGHT = 1000, 600  # neither square nor the 416 x 416 of the test photos


def yolo_line(cls: int, x: float, y: float, w: float, h: float) -> str:
    """A YOLO line for a pixel box (top-left x, y, size w, h) in the WIDTH x HEIGHT image."""
    return conftest.yolo_line(cls, x, y, w, h, WIDTH, HEIGHT)


def write(tmp_path: Path, text: str | bytes, name: str = "plate.txt") -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def assert_box_close(box: Box, expected: tuple[int, int, int, int], tol: int = 1) -> None:
    assert box is not None
    np.testing.assert_allclose(box.as_tuple(), expected, atol=tol)


def test_box_scales_by_the_images_own_width_and_height(tmp_path):
    path = write(tmp_path, yolo_line(0, 300, 420, 250, 60))
    (box,) = plate_boxes_from_labels(path, WIDTH, HEIGHT)
    assert_box_close(box, (300, 420, 250, 60))
    assert (box.x2, box.y2) == (box.x + box.w, box.y + box.h)


def test_box_is_not_scaled_as_if_the_image_were_416_square(tmp_path):
    # The same normalised line means different pixels in images of different sizes.
    path = write(tmp_path, "0 0.5 0.5 0.2 0.1\n")
    (wide,) = plate_boxes_from_labels(path, WIDTH, HEIGHT)
    (square,) = plate_boxes_from_labels(path, 416, 416)
    assert_box_close(wide, (400, 270, 200, 60))
    assert_box_close(square, (166, 187, 83, 42))


def test_class_one_lines_are_ignored(tmp_path):
    car = yolo_line(1, 100, 50, 800, 500)
    plate = yolo_line(0, 420, 400, 160, 40)
    path = write(tmp_path, car + plate + car)
    boxes = plate_boxes_from_labels(path, WIDTH, HEIGHT)
    assert len(boxes) == 1
    assert_box_close(boxes[0], (420, 400, 160, 40))
    assert len(parse_yolo_labels(path)) == 3  # the parser itself keeps every well-formed line


def test_several_plate_lines_give_several_boxes_in_file_order(tmp_path):
    path = write(tmp_path, yolo_line(0, 600, 300, 100, 30) + yolo_line(0, 100, 100, 120, 40))
    boxes = plate_boxes_from_labels(path, WIDTH, HEIGHT)
    assert [b.x for b in boxes] == pytest.approx([600, 100], abs=1)


def test_garbage_lines_are_skipped_and_logged(tmp_path, caplog):
    good = yolo_line(0, 300, 420, 250, 60)
    lines = [
        "hello world\n",
        "0 0.5 0.5\n",  # too few values
        "0 0.5 0.5 abc 0.1\n",
        "x 0.5 0.5 0.2 0.1\n",
        "0 nan 0.5 0.2 0.1\n",
        "0 0.5 0.5 inf 0.1\n",
        "0 0.5 0.5 0 0.1\n",  # empty box
        "0 0.5 0.5 0.2 -0.1\n",
        "\n",
        "   \n",
        good,
    ]
    path = write(tmp_path, "".join(lines))
    with caplog.at_level(logging.WARNING, logger="plateocr.plates"):
        boxes = plate_boxes_from_labels(path, WIDTH, HEIGHT)
    assert len(boxes) == 1
    assert_box_close(boxes[0], (300, 420, 250, 60))
    assert "plate.txt" in caplog.text  # the warnings name the file


def test_infinite_class_value_is_skipped(tmp_path):
    path = write(tmp_path, "inf 0.5 0.5 0.2 0.1\n" + yolo_line(0, 300, 420, 250, 60))
    assert len(plate_boxes_from_labels(path, WIDTH, HEIGHT)) == 1


def test_out_of_range_boxes_are_clipped_or_dropped(tmp_path):
    lines = [
        "0 1.02 0.5 0.2 0.1\n",  # half outside on the right: clipped
        "0 -0.02 0.05 0.1 0.2\n",  # over the top-left corner: clipped
        "0 1.5 0.5 0.2 0.1\n",  # entirely outside: dropped
        "0 0.5 -0.5 0.2 0.1\n",  # entirely above: dropped
    ]
    path = write(tmp_path, "".join(lines))
    boxes = plate_boxes_from_labels(path, WIDTH, HEIGHT)
    assert len(boxes) == 2
    for b in boxes:
        assert 0 <= b.x and 0 <= b.y and b.x2 <= WIDTH and b.y2 <= HEIGHT and b.w > 0 and b.h > 0
    assert_box_close(boxes[0], (920, 270, 80, 60))
    assert_box_close(boxes[1], (0, 0, 30, 90))


def test_empty_label_file_gives_no_boxes(tmp_path):
    assert plate_boxes_from_labels(write(tmp_path, ""), WIDTH, HEIGHT) == []


def test_unreadable_label_file_raises_input_error(tmp_path):
    with pytest.raises(InputError, match="bad.txt"):
        parse_yolo_labels(write(tmp_path, b"\xff\xfe\x00garbage\xc3", name="bad.txt"))
    with pytest.raises(InputError, match="missing.txt"):
        parse_yolo_labels(tmp_path / "missing.txt")


def test_yolo_to_box_of_a_tiny_remainder_is_none():
    from plateocr.plates import YoloLine

    assert yolo_to_box(YoloLine(0, 1.0005, 0.5, 0.002, 0.1), WIDTH, HEIGHT) is None


def test_expand_box_grows_by_the_margin():
    box = Box(400, 300, 200, 50)
    grown = expand_box(box, 0.1, WIDTH, HEIGHT)
    assert grown.as_tuple() == (380, 295, 240, 60)
    assert expand_box(box, 0.0, WIDTH, HEIGHT) == box


def test_expand_box_clips_to_the_image():
    for box in (Box(0, 0, 100, 40), Box(950, 580, 50, 20), Box(5, 590, 990, 10)):
        grown = expand_box(box, 0.5, WIDTH, HEIGHT)
        assert grown.x >= 0 and grown.y >= 0
        assert grown.x2 <= WIDTH and grown.y2 <= HEIGHT
        # Clipping never loses the original box.
        assert grown.x <= box.x and grown.y <= box.y and grown.x2 >= box.x2 and grown.y2 >= box.y2
    assert expand_box(Box(0, 0, 100, 40), 0.5, WIDTH, HEIGHT).as_tuple() == (0, 0, 150, 60)


def test_crop_returns_the_boxs_pixels():
    image = np.arange(HEIGHT * WIDTH, dtype=np.int64).reshape(HEIGHT, WIDTH)
    box = Box(10, 20, 30, 5)
    region = crop(image, box)
    assert region.shape == (5, 30)
    assert region[0, 0] == image[20, 10] and region[-1, -1] == image[24, 39]
