"""The corner finder (``plateocr.corners``): its training data, its model, and the square-on view it gives the reader."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import cv2
import numpy as np
import pytest

import train_corners
from config import CornerTrainConfig, PlateModelConfig, RecognizeConfig
from plateocr.cornertrain import corner_sample, corner_targets, make_corner_batch, train_corner_finder
from plateocr.corners import CornerFinder, plausible_quad
from plateocr.platemodel import SlotReading, decode_slots, encode_texts
from plateocr.plates import Box
from plateocr.recognize import PlateReader
from plateocr.views import SQUARE_ON_MARGIN, square_on_view

# A plate seen from the side and below: turned about 17 degrees, its near end taller.
STEEP = np.float32([(60, 70), (340, 155), (335, 230), (52, 125)])


def seen_at_angle(plate: np.ndarray, corners: np.ndarray, size: tuple[int, int] = (400, 300)) -> np.ndarray:
    """``plate`` warped onto ``corners`` (TL, TR, BR, BL) of a dark car-like photo of ``size`` (w, h)."""
    h, w = plate.shape[:2]
    matrix = cv2.getPerspectiveTransform(np.float32([[0, 0], [w, 0], [w, h], [0, h]]), corners)
    photo = np.full((size[1], size[0], 3), 45, np.uint8)
    cv2.warpPerspective(plate, matrix, size, dst=photo, borderMode=cv2.BORDER_TRANSPARENT)
    return photo


def likeness(view: np.ndarray, plate: np.ndarray) -> float:
    """Correlation of the grey plate with the view's inside (its square-on margin cut away)."""
    m = round(SQUARE_ON_MARGIN * view.shape[0])
    inner = cv2.cvtColor(view[m:-m, m:-m], cv2.COLOR_BGR2GRAY).astype(np.float32)
    grey = cv2.cvtColor(plate, cv2.COLOR_BGR2GRAY).astype(np.float32)
    inner = cv2.resize(inner, (grey.shape[1], grey.shape[0]), interpolation=cv2.INTER_AREA)
    return float(np.corrcoef(inner.ravel(), grey.ravel())[0, 1])


def test_training_samples_are_drawn_again_from_their_seed_with_corners_as_shares_of_the_crop():
    x1, y1 = make_corner_batch(np.random.default_rng(3), 4)
    x2, y2 = make_corner_batch(np.random.default_rng(3), 4)
    assert x1.shape == (4, 64, 128, 1) and y1.shape == (4, 8)
    np.testing.assert_array_equal(x1, x2)
    np.testing.assert_array_equal(y1, y2)
    crop, corners = corner_sample(np.random.default_rng(5))
    h, w = crop.shape[:2]
    np.testing.assert_allclose(corner_targets(corners, crop.shape).reshape(4, 2) * [w, h], corners, rtol=1e-5)
    # The plate's corners lie around the crop's middle, in TL, TR, BR, BL order.
    tl, tr, br, bl = corners
    assert tl[0] < tr[0] and bl[0] < br[0] and tl[1] < bl[1] and tr[1] < br[1]


def test_the_plate_is_warped_square_on_from_its_corners(rendered_plate):
    plate, _ = rendered_plate("2745BCD")
    photo = seen_at_angle(plate, STEEP)
    box = Box(40, 55, 320, 190)
    in_box = STEEP - np.float32([box.x, box.y])
    view = square_on_view(photo, box, in_box, 128)
    assert view is not None and view.shape[0] == 128
    # As wide for its height as the plate (520 x 110) once the margins are taken off.
    m = SQUARE_ON_MARGIN * 128
    assert (view.shape[1] - 2 * m) / (128 - 2 * m) == pytest.approx(plate.shape[1] / plate.shape[0], rel=0.15)
    assert likeness(view, plate) > 0.85
    # The same corners taken in the wrong order give a turned, mirrored view: not the plate.
    wrong = square_on_view(photo, box, in_box[[1, 0, 3, 2]], 128)
    assert wrong is None or likeness(wrong, plate) < 0.5


def test_corners_that_make_no_plate_give_no_view():
    good = np.float32([[10, 10], [110, 15], [108, 40], [8, 35]])
    assert plausible_quad(good)
    assert not plausible_quad(good[[0, 1, 3, 2]])  # crossed
    assert not plausible_quad(np.float32([[10, 10], [110, 10], [110, 13], [10, 13]]))  # a sliver 3 px high
    assert not plausible_quad(np.float32([[10, 10], [20, 10], [20, 80], [10, 80]]))  # far taller than wide
    assert not plausible_quad(np.full((4, 2), np.nan, np.float32))
    image = np.zeros((60, 130, 3), np.uint8)
    assert square_on_view(image, Box(0, 0, 130, 60), good[[0, 1, 3, 2]], 128) is None


@pytest.fixture(scope="module")
def tiny_corner_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("corners") / "plate_corners.h5"
    train_corner_finder(CornerTrainConfig(out=out, steps=16, batch_size=8, val_samples=16, seed=9))
    return out


def test_a_trained_corner_finder_is_saved_with_its_export_and_gives_corners_in_each_crops_pixels(tiny_corner_model, tmp_path):
    sidecar = json.loads(tiny_corner_model.with_suffix(".json").read_text())
    assert sidecar["kind"] == "corner_finder" and sidecar["steps"] == 16
    assert tiny_corner_model.with_suffix(".onnx").is_file()
    finder = CornerFinder(tiny_corner_model)
    crop, _ = corner_sample(np.random.default_rng(1))
    bigger = cv2.resize(crop, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC)
    found = finder.corners([crop, bigger])
    assert found.shape == (2, 4, 2)
    # The model reads both at its input size, so the corners it gives the bigger crop are twice as far out.
    np.testing.assert_allclose(found[1], 2 * found[0], rtol=0.1, atol=2.0)
    assert finder.corners([]).shape == (0, 4, 2)
    # The same seed trains the same model.
    again = tmp_path / "again.h5"
    train_corner_finder(CornerTrainConfig(out=again, steps=16, batch_size=8, val_samples=16, seed=9))
    np.testing.assert_allclose(CornerFinder(again).corners([crop]), found[:1], atol=1e-4)


class TrueCorners:
    """A corner finder that knows where the plate is: the photo's corners (STEEP unless given), in each box's crop."""

    def __init__(self, boxes: list[Box], corners: np.ndarray = STEEP) -> None:
        self.boxes, self.quad = boxes, corners

    def corners(self, crops: list[np.ndarray]) -> np.ndarray:
        assert len(crops) == len(self.boxes)  # every box's crop in one call
        return np.stack([self.quad - np.float32([b.x, b.y]) for b in self.boxes])


def test_every_box_is_also_read_square_on_in_the_same_model_call(tiny_model, tiny_plate_model, rendered_plate, monkeypatch):
    plate, _ = rendered_plate("8093MWX")
    photo = seen_at_angle(plate, STEEP)
    boxes = [Box(40, 55, 320, 190), Box(30, 50, 340, 200)]
    reader = PlateReader(tiny_model, RecognizeConfig(plate_model=tiny_plate_model, reader="plate", corner_model=None))
    assert reader.corners is None and reader.square_on_views(photo, boxes) == [[], []]
    calls: list[list[np.ndarray]] = []
    read = reader.whole_plate.read

    def counting(crops: list[np.ndarray]) -> list:
        calls.append(crops)
        return read(crops)

    monkeypatch.setattr(reader.whole_plate, "read", counting)
    reader.read_views(photo, boxes)
    without = len(calls[-1])
    reader.corners = TrueCorners(boxes)
    views = reader.square_on_views(photo, boxes)
    assert [len(v) for v in views] == [1, 1] and likeness(views[0][0], plate) > 0.85
    fused = reader.read_views(photo, boxes)
    assert len(calls) == 2 and len(calls[-1]) == without + 2 and len(fused) == 2


def test_a_missing_corner_finder_is_named_and_plates_are_read_without_it(tiny_model, tiny_plate_model, tmp_path, caplog):
    missing = tmp_path / "nowhere" / "plate_corners.h5"
    with caplog.at_level(logging.WARNING):
        reader = PlateReader(tiny_model, RecognizeConfig(plate_model=tiny_plate_model, reader="plate", corner_model=missing))
    assert reader.corners is None
    assert str(missing) in caplog.text and "train_corners.py" in caplog.text


def test_train_corners_refuses_bad_flags(tmp_path, capsys):
    assert train_corners.main(["--out", str(tmp_path / "c.h5"), "--steps", "0", "-q"]) == 2
    assert "steps must be >= 1" in capsys.readouterr().err
    assert not (tmp_path / "c.h5").exists()


def two_row_square(plate: np.ndarray, centres: list[float]) -> np.ndarray:
    """A one-row plate cut after its fourth character and stacked: the digits above the letters."""
    cut = round((centres[3] + centres[4]) / 2)
    top, bottom = plate[:, :cut], plate[:, cut:]
    bottom = cv2.resize(bottom, (top.shape[1], bottom.shape[0]), interpolation=cv2.INTER_AREA)
    return np.vstack([top, bottom])


# A two-row square seen a little from the side: about 1.3 times as wide as high.
SQUARE = np.float32([(120, 60), (290, 80), (285, 215), (115, 190)])


def test_a_two_row_square_is_also_read_as_one_row_in_the_same_model_call(tiny_model, tiny_plate_model, rendered_plate, monkeypatch):
    from plateocr.views import ROW_OVERLAP, fuse_slots, one_row_view

    plate, centres = rendered_plate("8093MWX")
    square = two_row_square(plate, centres)
    photo = seen_at_angle(square, SQUARE)
    box = Box(100, 45, 210, 185)
    reader = PlateReader(tiny_model, RecognizeConfig(plate_model=tiny_plate_model, reader="plate", corner_model=None))
    reader.corners = TrueCorners([box], SQUARE)
    view = reader.square_on_views(photo, [box])[0][0]
    assert likeness(view, square) > 0.85

    # The view's top half beside its bottom half, each reaching ROW_OVERLAP of its height past the middle.
    one_row = one_row_view(view)
    height, width = view.shape[:2]
    reach = height // 2 + round(ROW_OVERLAP * height)
    assert one_row is not None and one_row.shape == (reach, 2 * width, 3)
    assert np.array_equal(one_row[:, :width], view[:reach]) and np.array_equal(one_row[:, width:], view[height - reach :])
    # A one-row plate's square-on view is not cut.
    wide = square_on_view(seen_at_angle(plate, STEEP), Box(0, 0, 400, 300), STEEP, 64)
    assert wide is not None and one_row_view(wide) is None

    # Read in the reader's one call as one more crop, and fused with the rest of the plate's views, unless
    # it reads nothing as one row (the plate was not two rows, or its rows were not cut apart).
    calls: list[list[np.ndarray]] = []
    read = reader.whole_plate.read
    as_one_row: list[object] = []  # what the model is made to read in the one-row view (none: what it reads)

    def reading(crops: list[np.ndarray]) -> list:
        calls.append(crops)
        out = read(crops)
        if as_one_row and crops[-1].shape == one_row.shape:
            out[-1] = as_one_row[0]
        return out

    monkeypatch.setattr(reader.whole_plate, "read", reading)
    reader.read_views(photo, [box])
    assert len(calls) == 1 and np.array_equal(calls[0][-1], one_row)
    as_one_row[:] = [reading_of("8093MWX")]
    fused = reader.read_views(photo, [box])[0]
    as_one_row[:] = [reading_of("")]
    nothing_as_one_row = reader.read_views(photo, [box])[0]
    monkeypatch.setattr("plateocr.recognize.one_row_view", lambda view: None)
    without = reader.read_views(photo, [box])[0]
    assert len(calls[-1]) == len(calls[0]) - 1
    expected = fuse_slots([without, reading_of("8093MWX")], reader.whole_plate.cfg)
    np.testing.assert_allclose(fused.probs, expected.probs, atol=1e-5)
    assert fused.text == expected.text and not np.allclose(fused.probs, without.probs, atol=1e-3)
    np.testing.assert_allclose(nothing_as_one_row.probs, without.probs, atol=1e-6)


def reading_of(text: str) -> SlotReading:
    """A whole-plate reading sure of ``text`` (left-aligned, pads after)."""
    slots = PlateModelConfig()
    logits = np.zeros((1, slots.slots, len(slots.alphabet)), np.float32)
    logits[0, np.arange(slots.slots), encode_texts([text], slots)[0]] = 9.0
    return decode_slots(logits, slots)[0]
