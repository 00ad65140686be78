"""The corner finder (``plateocr.corners``): its training data, its model, and the square-on view it gives the reader."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import cv2
import numpy as np
import pytest

import train_corners
from config import CornerTrainConfig, RecognizeConfig
from plateocr.cornertrain import corner_sample, corner_targets, make_corner_batch, train_corner_finder
from plateocr.corners import CornerFinder, plausible_quad
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
    """A corner finder that knows where the plate is: the photo's STEEP corners, in each box's crop."""

    def __init__(self, boxes: list[Box]) -> None:
        self.boxes = boxes

    def corners(self, crops: list[np.ndarray]) -> np.ndarray:
        assert len(crops) == len(self.boxes)  # every box's crop in one call
        return np.stack([STEEP - np.float32([b.x, b.y]) for b in self.boxes])


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
