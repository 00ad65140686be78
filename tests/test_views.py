"""The whole-plate reader's views of a box and their fusion (``plateocr.views``), on plates drawn here."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest

from config import PlateModelConfig, RecognizeConfig
from conftest import turned_photo
from plateocr.level import levelled_views
from plateocr.platemodel import decode_slots, encode_texts
from plateocr.plates import Box
from plateocr.recognize import PlateReader
from plateocr.views import box_views, fuse_slots, plate_views

CFG = PlateModelConfig()
MARGINS = RecognizeConfig().view_margins


def slot_logits(text: str, sure: float = 6.0) -> np.ndarray:
    """``(slots, classes)`` logits that favour ``text`` by ``sure`` in every slot."""
    logits = np.zeros((CFG.slots, len(CFG.alphabet)), np.float32)
    logits[np.arange(CFG.slots), encode_texts([text], CFG)[0]] = sure
    return logits


def reading(text: str, sure: float = 6.0):
    return decode_slots(slot_logits(text, sure)[None], CFG)[0]


def test_views_follow_the_margins_and_stay_inside_the_image():
    image = np.arange(100 * 200, dtype=np.uint32).reshape(100, 200).astype(np.uint8)[..., None].repeat(3, axis=2)
    box = Box(50, 40, 100, 20)
    views = box_views(image, box, [(0, 0, 0, 0), (0.1, 0.5, 0.1, 0.5), (-0.1, -0.25, -0.1, -0.25), (0.1, 0, 0, 0)])
    assert [v.shape[:2] for v in views] == [(20, 100), (40, 120), (10, 80), (20, 110)]
    # The plain view is the box's own pixels; the widened one starts 10 px further left.
    assert np.array_equal(views[0], image[40:60, 50:150])
    assert np.array_equal(views[3], image[40:60, 40:150])
    # Near the border a view is clipped to the photo, not padded.
    edge = box_views(image, Box(0, 90, 60, 10), [(0.5, 0.5, 0.5, 0.5)])[0]
    assert edge.shape[:2] == (15, 90)


def test_a_view_cut_to_nothing_falls_back_to_the_box():
    image = np.zeros((50, 50, 3), np.uint8)
    (view,) = box_views(image, Box(10, 10, 3, 3), [(-0.25, -0.25, -0.25, -0.25)])
    assert view.shape[:2] == (3, 3)


def test_fusion_keeps_what_the_views_agree_on_and_outvotes_one_stray_view():
    agreed = [reading("1234BCD"), reading("1234BCD"), reading("1284BCD", sure=3.0)]
    fused = fuse_slots(agreed, CFG)
    assert fused.text == "1234BCD"
    assert np.allclose(fused.probs.sum(axis=-1), 1.0)
    # The stray view costs confidence: less sure than the two agreeing views alone.
    assert fused.confidence < fuse_slots(agreed[:2], CFG).confidence
    # Where the views are split, the surer side wins the slot.
    assert fuse_slots([reading("1234BCD", 8.0), reading("1284BCD", 2.0)], CFG).text == "1234BCD"


def test_one_view_is_read_as_it_is():
    single = reading("AB123CD", sure=2.0)
    assert fuse_slots([single], CFG) is single


def test_a_tilted_plate_gets_square_on_views_beside_its_crops(rendered_plate):
    plate, _ = rendered_plate("2745BCD")
    h, w = plate.shape[:2]
    photo = np.full((300, 420, 3), 35, np.uint8)
    corners = np.float32([[40, 140], [330, 60], [350, 130], [60, 210]])  # about 15 degrees
    matrix = cv2.getPerspectiveTransform(np.float32([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]]), corners)
    cv2.warpPerspective(plate, matrix, (420, 300), dst=photo, borderMode=cv2.BORDER_TRANSPARENT)
    x0, y0 = corners.min(axis=0).astype(int)
    x1, y1 = corners.max(axis=0).astype(int)
    box = Box(int(x0), int(y0), int(x1 - x0), int(y1 - y0))
    plain = plate_views(photo, box, MARGINS)
    assert len(plain) == len(MARGINS)
    views = plate_views(photo, box, MARGINS, rectify_height=128)
    assert len(views) > len(MARGINS)
    # Square-on, the plate is wider for its height than in its tilted box.
    assert all(v.shape[0] == 128 and v.shape[1] / 128 > box.w / box.h for v in views[len(MARGINS):])


def test_view_margins_are_validated():
    with pytest.raises(ValueError, match="view margins"):
        RecognizeConfig(view_margins=()).validate()
    with pytest.raises(ValueError, match="view margins"):
        RecognizeConfig(view_margins=((0.0, 0.0, 0.0, 0.9),)).validate()


def test_the_reader_reads_every_view_of_every_box_in_one_call(tiny_model, tiny_plate_model, rendered_plate):
    plate, _ = rendered_plate("2745BCD")
    photo = np.full((260, 640, 3), 60, np.uint8)
    photo[50 : 50 + plate.shape[0], 40 : 40 + plate.shape[1]] = plate
    boxes = [Box(40, 50, plate.shape[1], plate.shape[0]), Box(0, 0, 80, 40)]
    cfg = dataclasses.replace(RecognizeConfig(), plate_model=tiny_plate_model, reader="plate", rectify=False)
    reader = PlateReader(tiny_model, cfg)
    calls = []
    read = reader.whole_plate.read
    reader.whole_plate.read = lambda crops: calls.append(len(crops)) or read(crops)  # type: ignore[method-assign]
    fused = reader.read_views(photo, boxes)
    assert calls == [len(MARGINS) * len(boxes)]
    # Each box's reading is its own views' fusion, in the boxes' order.
    for box, got in zip(boxes, fused):
        expected = fuse_slots(read(plate_views(photo, box, MARGINS)), reader.whole_plate.cfg)
        assert got.text == expected.text
        assert np.allclose(got.probs, expected.probs, atol=1e-5)


def test_a_tilted_plates_levelled_views_join_the_same_call_and_weigh_as_much_as_its_box_views(
    tiny_model, tiny_plate_model, rendered_plate
):
    plate, _ = rendered_plate("2745BCD")
    photo, box = turned_photo(plate, 16.0, (360, 520), grey=60)
    cfg = dataclasses.replace(RecognizeConfig(), plate_model=tiny_plate_model, reader="plate", rectify=False)
    reader = PlateReader(tiny_model, cfg)
    levelled = levelled_views(photo, box, cfg.level_margins)
    assert len(levelled) == len(cfg.level_margins)
    calls = []
    read = reader.whole_plate.read
    reader.whole_plate.read = lambda crops: calls.append(len(crops)) or read(crops)  # type: ignore[method-assign]
    (got,) = reader.read_views(photo, [box])
    assert calls == [len(MARGINS) + len(levelled)]

    def fuse(views: list[np.ndarray]):
        return fuse_slots(read(views), reader.whole_plate.cfg)

    expected = fuse_slots([fuse(plate_views(photo, box, MARGINS)), fuse(levelled)], reader.whole_plate.cfg)
    assert np.allclose(got.probs, expected.probs, atol=1e-5)
    # Without level margins the box's views alone are read.
    flat = PlateReader(tiny_model, dataclasses.replace(cfg, level_margins=()))
    assert np.allclose(flat.read_views(photo, [box])[0].probs, fuse(plate_views(photo, box, MARGINS)).probs, atol=1e-5)
