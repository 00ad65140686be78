"""Levelling a tilted plate's box (``plateocr.level``), on plates drawn and turned here."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from config import RecognizeConfig
from conftest import turned_photo
from plateocr.level import MAX_TILT, MIN_HEIGHT_SHARE, MIN_TILT, WIDE_TILT, level_plate, level_size, levelled_views, plate_tilt
from plateocr.plates import Box


@pytest.mark.parametrize("angle", [-24.0, -12.0, 8.0, 20.0])
def test_the_tilt_that_levels_a_turned_plate_is_found(rendered_plate, angle):
    plate, _ = rendered_plate("2745BCD")
    photo, box = turned_photo(plate, angle)
    assert abs(plate_tilt(photo[box.y : box.y2, box.x : box.x2]) + angle) <= 3.0


@pytest.mark.parametrize("angle", [-36.0, 34.0])
def test_a_plate_turned_beyond_the_searchs_edge_is_found_and_levelled(rendered_plate, angle):
    """A best rotation at MAX_TILT sends the search on to WIDE_TILT, and a one-row plate found there is levelled."""
    assert MAX_TILT < abs(angle) < WIDE_TILT
    plate, _ = rendered_plate("2745BCD")
    photo, box = turned_photo(plate, angle)
    tilt = plate_tilt(photo[box.y : box.y2, box.x : box.x2])
    assert abs(tilt + angle) <= 3.0
    (view,) = level_plate(photo, box, [(0.0, 0.0)], tilt).views
    h, w = plate.shape[:2]
    assert abs(view.shape[1] - w) <= 6 and abs(view.shape[0] - h) <= 6
    level = cv2.resize(view, (w, h)).astype(np.float32)
    assert np.corrcoef(level.ravel(), plate.astype(np.float32).ravel())[0, 1] > 0.8


def test_beyond_the_searchs_edge_only_a_one_row_plates_shape_is_levelled(rendered_plate):
    """A square box solves to a square plate at a tilt beyond MAX_TILT (a two-row plate, or a one-row
    plate in steep perspective, whose best rotation can land anywhere out there): it is not levelled,
    while the same tilt inside the search levels it, and a one-row plate's bounds are levelled beyond."""
    plate, _ = rendered_plate("2745BCD")
    photo, box = turned_photo(plate, 35.0)
    assert level_plate(photo, box, [(0.0, 0.0)], -35.0).views
    square = Box(box.x, box.y, box.w, box.w)
    assert level_size(square, 35.0) is not None
    assert level_plate(photo, square, [(0.0, 0.0)], -35.0).views == []
    assert level_plate(photo, square, [(0.0, 0.0)], -20.0).views
    # At WIDE_TILT itself, the wider search's edge, no level is found.
    assert level_plate(photo, box, [(0.0, 0.0)], -WIDE_TILT).views == []


def test_the_tilt_is_found_between_the_searchs_steps(rendered_plate):
    # The search steps by 1.5 degrees; the peak is placed between them, so a plate turned by any angle
    # is levelled to within a fraction of a step (rounded to the grid: 0.38 degrees off on average).
    plate, _ = rendered_plate("2745BCD")
    errors = []
    for angle in np.arange(-24.0, 24.0, 0.7):
        photo, box = turned_photo(plate, float(angle))
        errors.append(abs(plate_tilt(photo[box.y : box.y2, box.x : box.x2]) + angle))
    assert np.mean(errors) <= 0.2, np.round(errors, 2)


def test_a_level_plate_is_not_turned(rendered_plate):
    plate, _ = rendered_plate("0318KLM")
    assert abs(plate_tilt(plate)) <= MIN_TILT
    photo, box = turned_photo(plate, 0.0)
    assert levelled_views(photo, box, RecognizeConfig().level_margins) == []


def test_the_plates_size_follows_from_its_bounds_and_tilt():
    t = np.deg2rad(20.0)
    w, h = 200 * np.cos(t) + 44 * np.sin(t), 200 * np.sin(t) + 44 * np.cos(t)
    width, height = level_size(Box(0, 0, round(w), round(h)), 20.0)
    assert width == pytest.approx(200, abs=2) and height == pytest.approx(44, abs=2)
    assert level_size(Box(0, 0, round(w), round(h)), -20.0) == (width, height)
    # A tall box holds no plate tilted by 20 degrees.
    assert level_size(Box(0, 0, 40, 100), 20.0) is None


def test_a_loose_box_gives_a_plate_not_a_sliver(rendered_plate):
    """A box looser than a turned plate's bounds (a localiser's, with some car around the plate) solves to
    a plate a few pixels tall; the level view keeps a one-row plate's height for its width instead."""
    width, height = level_size(Box(0, 0, 193, 78), 21.0)
    assert width == pytest.approx(205, abs=2)
    assert height == pytest.approx(width * MIN_HEIGHT_SHARE, rel=0.01)
    # A tight box keeps the plate's own height (taller than a one-row plate's share here).
    t = np.deg2rad(21.0)
    tight = level_size(Box(0, 0, round(200 * np.cos(t) + 60 * np.sin(t)), round(200 * np.sin(t) + 60 * np.cos(t))), 21.0)
    assert tight[1] == pytest.approx(60, abs=2)
    # The loose box's levelled view holds the whole plate's text rows, not a strip of them.
    plate, _ = rendered_plate("2745BCD")
    photo, box = turned_photo(plate, 21.0)
    grown = Box(box.x - round(0.075 * box.w), box.y, round(1.15 * box.w), box.h)  # 15 % wider than the plate's bounds
    size = level_size(grown, 21.0)
    assert size is not None and size[0] / size[1] <= 1 / MIN_HEIGHT_SHARE + 0.01
    (view,) = levelled_views(photo, grown, [(0.0, 0.0)])
    assert view.shape[0] >= 0.8 * plate.shape[0]


def test_the_levelled_view_is_the_plate_cut_out_level(rendered_plate):
    plate, _ = rendered_plate("2745BCD")
    h, w = plate.shape[:2]
    photo, box = turned_photo(plate, 18.0)
    (view,) = levelled_views(photo, box, [(0.0, 0.0)])
    assert abs(view.shape[1] - w) <= 4 and abs(view.shape[0] - h) <= 4
    level = cv2.resize(view, (w, h)).astype(np.float32)
    assert np.corrcoef(level.ravel(), plate.astype(np.float32).ravel())[0, 1] > 0.8
    # With margins the view grows by them on each side.
    _, wide = levelled_views(photo, box, [(0.0, 0.0), (0.1, 0.25)])
    assert abs(wide.shape[1] - 1.2 * w) <= 5 and abs(wide.shape[0] - 1.5 * h) <= 5


def test_level_margins_are_validated():
    RecognizeConfig(level_margins=()).validate()
    with pytest.raises(ValueError, match="level margins"):
        RecognizeConfig(level_margins=((0.1,),)).validate()
    with pytest.raises(ValueError, match="level margins"):
        RecognizeConfig(level_margins=((0.1, 0.8),)).validate()


def test_the_chars_reader_reads_a_steeply_tilted_plate_levelled(tiny_model, tiny_plate_model, rendered_plate):
    import dataclasses

    from plateocr.recognize import PlateCandidate, PlateReader

    plate, _ = rendered_plate("2745BCD")
    photo, box = turned_photo(plate, -17.0)
    cfg = dataclasses.replace(RecognizeConfig(), plate_model=tiny_plate_model, reader="both")
    reader = PlateReader(tiny_model, cfg)
    seen: list[np.ndarray] = []
    read = reader.chars.read
    reader.chars.read = lambda crops: seen.extend(crops) or read(crops)  # type: ignore[method-assign]
    reader.evidence(photo, [PlateCandidate(box, "label"), PlateCandidate(Box(0, 0, 90, 30), "label")])
    # The tilted plate's crop is its first levelled view; the level box is read as it is.
    assert np.array_equal(seen[0], levelled_views(photo, box, cfg.level_margins)[0])
    assert np.array_equal(seen[1], photo[0:30, 0:90])
    # A small tilt the Chars74K reader levels itself: it reads the box, the whole-plate reader the levelled views.
    seen.clear()
    slight, slight_box = turned_photo(plate, 6.0)
    assert levelled_views(slight, slight_box, cfg.level_margins)
    reader.evidence(slight, [PlateCandidate(slight_box, "label")])
    assert np.array_equal(seen[0], slight[slight_box.y : slight_box.y2, slight_box.x : slight_box.x2])
    # Without level margins nothing is levelled.
    seen.clear()
    flat = PlateReader(tiny_model, dataclasses.replace(cfg, level_margins=()))
    flat.chars.read = lambda crops: seen.extend(crops) or read(crops)  # type: ignore[method-assign]
    flat.evidence(photo, [PlateCandidate(box, "label")])
    assert np.array_equal(seen[0], photo[box.y : box.y2, box.x : box.x2])


def test_a_strip_far_wider_than_tall_is_read_without_error(tiny_model, tiny_plate_model):
    """A photo 10 px high and 5000 long is read as a plate cut out (it is wider than twice its height):
    its tilt search scales it under a pixel high, which OpenCV refused; it now reads, finding nothing."""
    import dataclasses
    from pathlib import Path

    from plateocr.recognize import PlateReader

    strip = np.full((10, 5000, 3), 200, np.uint8)
    assert np.isfinite(plate_tilt(strip))
    reader = PlateReader(tiny_model, dataclasses.replace(RecognizeConfig(), plate_model=tiny_plate_model, reader="both"))
    result = reader.read_image(Path("strip.png"), None, image=strip)
    assert not result.error and result.text == ""
