"""bench/perturbed.py: real photos perturbed as phone photos are, their plate box carried along."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from bench import perturbed
from conftest import PORT_FLAGS, draw_plate
from plateocr.plates import Box


def _photo_with_block(box: Box = Box(150, 130, 100, 30)) -> tuple[np.ndarray, Box]:
    photo = np.full((300, 400, 3), 60, np.uint8)
    photo[box.y : box.y2, box.x : box.x2] = 255
    return photo, box


def _bounds_of_white(image: np.ndarray) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(image[..., 0] > 160)
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


@pytest.mark.parametrize("kind", ["rot+12", "rot-18", "rot+25", "persp0.5", "rot-15+persp0.3", "small0.6", "small0.45"])
def test_the_plate_box_follows_the_plate(kind: str) -> None:
    """Turned, in perspective or scaled, the box returned bounds the plate where it now is."""
    photo, box = _photo_with_block()
    out, moved = perturbed.KINDS[kind](photo, box)
    x0, y0, x1, y1 = _bounds_of_white(out)
    assert abs(moved.x - x0) <= 2 and abs(moved.y - y0) <= 2
    assert abs(moved.x2 - x1) <= 2 and abs(moved.y2 - y1) <= 2
    if kind.startswith("rot"):
        assert moved.h > box.h + 10  # a turned plate's bounds are taller than the plate


def test_photometric_kinds_keep_the_box_and_change_the_pixels() -> None:
    photo, box = _photo_with_block()
    for kind in ("blur1.0", "jpeg20", "blue", "orange", "green"):
        out, same = perturbed.KINDS[kind](photo, box)
        assert same == box and out.shape == photo.shape and out.dtype == np.uint8
        assert not np.array_equal(out, photo), kind
    blue, _ = perturbed.KINDS["blue"](photo, box)
    assert blue[..., 0].mean() > blue[..., 2].mean() + 40  # BGR: blue well above red


def test_the_extra_kinds_smear_along_rows_or_darken_the_left_of_an_edge_through_the_plate() -> None:
    photo, box = _photo_with_block()
    smeared, same = perturbed.EXTRA_KINDS["motion5"](photo, box)
    assert same == box
    row, column = smeared[box.y + 15, :, 0].astype(int), smeared[:, box.x + 50, 0].astype(int)
    assert 60 < row[box.x] < 255 and 60 < row[box.x2 - 1] < 255  # the block's left and right edges are smeared
    assert column[box.y - 1] == 60 and column[box.y] == 255  # its top edge is not
    dark, same = perturbed.EXTRA_KINDS["shadow0.25"](photo, box)
    edge = box.x + 25
    assert same == box and dark[box.y, edge - 1, 0] == 114 and dark[box.y, edge, 0] == 255
    assert (dark[:, :edge] < photo[:, :edge]).all() and np.array_equal(dark[:, edge:], photo[:, edge:])


def test_a_large_photo_keeps_its_plate_box_in_proportion() -> None:
    photo, box = _photo_with_block()
    out, moved = perturbed.EXTRA_KINDS["large2"](photo, box)
    assert out.shape == (600, 800, 3) and moved == Box(300, 260, 200, 60)
    x0, y0, x1, y1 = _bounds_of_white(out)
    assert abs(x0 - moved.x) <= 1 and abs(y0 - moved.y) <= 1 and abs(x1 - moved.x2) <= 1 and abs(y1 - moved.y2) <= 1


def test_phone_kinds_draw_their_own_mix_for_each_photo_and_the_same_one_again() -> None:
    """A phone kind turns, warps, scales, tints, blurs and compresses; its mix depends on the kind's seed and
    the photo, and the same photo gets the same mix again (a reproducible bench)."""
    photo, box = _photo_with_block()
    out, moved = perturbed.EXTRA_KINDS["phone1"](photo, box)
    again, moved_again = perturbed.EXTRA_KINDS["phone1"](photo, box)
    assert np.array_equal(out, again) and moved == moved_again
    other, moved_other = perturbed.EXTRA_KINDS["phone2"](photo, box)
    shifted, moved_shifted = perturbed.EXTRA_KINDS["phone1"](*_photo_with_block(Box(100, 100, 100, 30)))
    assert moved_other != moved and moved_shifted.w != moved.w  # another seed, another photo: another mix
    for image, plate in ((out, moved), (other, moved_other)):
        assert image.dtype == np.uint8 and image.shape[0] <= photo.shape[0] and image.shape[1] <= photo.shape[1]
        assert plate.h > 0.6 * box.h and plate.w > 0.5 * box.w  # the box still bounds a plate-sized region
        inside = image[plate.y : plate.y2, plate.x : plate.x2, 0].astype(float)
        assert inside.mean() > image[..., 0].astype(float).mean() + 20  # the bright plate is where the box says


def test_the_bench_reads_every_photo_under_every_kind(tiny_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    (data / "test6Training" / "images").mkdir(parents=True)
    (data / "test6Training" / "labels").mkdir()
    for name in ("1234BCD", "5678FGH"):
        plate, _ = draw_plate(name)
        photo = np.full((416, 416, 3), 90, np.uint8)
        small = cv2.resize(plate, (160, 36), interpolation=cv2.INTER_AREA)
        photo[200:236, 120:280] = small
        cv2.imwrite(str(data / "test6Training" / "images" / f"{name}.jpg"), photo)
        (data / "test6Training" / "labels" / f"{name}.txt").write_text(f"0 {200 / 416} {218 / 416} {160 / 416} {36 / 416}\n")
    cv2.imwrite(str(data / "test6Training" / "images" / "XYZ123.jpg"), np.zeros((64, 64, 3), np.uint8))  # not Spanish: skipped
    assert [p.stem for p, _, _ in perturbed.spanish_photos(data)] == ["1234BCD", "5678FGH"]
    code = perturbed.main(["--model", str(tiny_model), "--data", str(data), "--kinds", "none,rot+12", *PORT_FLAGS])
    out = capsys.readouterr().out
    assert code == 0
    rows = {line.split("|")[1].strip(): line for line in out.splitlines() if line.startswith("| ")}
    assert {"none", "rot+12", "**all 4**"} <= set(rows)
    # Each photo is read with and without its box: right + wrong never exceed the photos, and the
    # port at threshold 0 answers every photo it reads.
    for kind in ("none", "rot+12"):
        counts = [int(c) for c in rows[kind].split("|")[2:6]]
        assert counts[0] + counts[1] == 2 and counts[2] + counts[3] <= 2


def test_unknown_kinds_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        perturbed.main(["--kinds", "none,sideways"])
    assert "sideways" in capsys.readouterr().err


def test_the_real_photos_are_the_21_spanish_ones(shared_data: Path) -> None:
    photos = perturbed.spanish_photos(shared_data)
    assert len(photos) == 21
    for path, image, box in photos:
        h, w = image.shape[:2]
        assert image.shape == cv2.imread(str(path)).shape
        assert 0 <= box.x and box.x2 <= w and 0 <= box.y and box.y2 <= h and min(box.w, box.h) >= 8


def test_a_missing_peer_engine_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "rapidocr_onnxruntime", None)  # importing it now raises ImportError
    with pytest.raises(SystemExit):
        perturbed.main(["--peer", "rapidocr", "--kinds", "none"])
    assert "rapidocr_onnxruntime is not installed" in capsys.readouterr().err
