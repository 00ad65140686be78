"""``recognize_plates.main`` end to end with a tiny model: results file, exit codes, broken inputs."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import conftest
import cv2
import numpy as np
import pytest

import recognize_plates
from config import SPANISH_PLATE, PreprocessConfig, RecognizeConfig
from plateocr.errors import SetupError
from plateocr.filters import FILTERS
from plateocr.plates import Box, expand_box
from conftest import PORT_CONFIG, PORT_FLAGS
from plateocr.charreader import load_model
from plateocr.recognize import PlateCandidate, PlateReader, count_hits, list_images

GOOD = "2745BCD"
ZERO_BYTES = "3000BBB"
NOT_AN_IMAGE = "4000CCC"
NO_LABEL = "5000DDD"


def car_scene(plate_bgr: np.ndarray, width: int, height: int, at: tuple[int, int]) -> tuple[np.ndarray, Box, Box]:
    """A car-like photo: textured background, a dark car body, the plate at ``at``; returns (image, car, plate)."""
    rng = np.random.default_rng(width + height)
    image = np.clip(rng.normal(150, 12, (height, width, 3)), 0, 255).astype(np.uint8)
    image = cv2.GaussianBlur(image, (0, 0), 3)
    ph, pw = plate_bgr.shape[:2]
    x, y = at
    x0, y0 = max(0, x - pw // 2), max(0, y - 3 * ph)
    car = Box(x0, y0, min(width, x + pw + pw // 2) - x0, min(height, y + 2 * ph) - y0)
    cv2.rectangle(image, (car.x, car.y), (car.x2 - 1, car.y2 - 1), (60, 40, 35), -1)
    image[y : y + ph, x : x + pw] = plate_bgr
    return image, car, Box(x, y, pw, ph)


def yolo_line(cls: int, box: Box, width: int, height: int) -> str:
    return conftest.yolo_line(cls, box.x, box.y, box.w, box.h, width, height)


def write_photo(
    images: Path, labels: Path | None, name: str, plate_bgr: np.ndarray, size=(640, 480), at=(60, 300)
) -> Box:
    """Save ``name``.jpg (and its label file, car line first); returns the plate's pixel box."""
    width, height = size
    image, car, plate = car_scene(plate_bgr, width, height, at)
    assert cv2.imwrite(str(images / f"{name}.jpg"), image, [cv2.IMWRITE_JPEG_QUALITY, 95])
    if labels is not None:
        (labels / f"{name}.txt").write_text(yolo_line(1, car, width, height) + yolo_line(0, plate, width, height))
    return plate


@pytest.fixture
def folders(tmp_path: Path) -> tuple[Path, Path]:
    images, labels = tmp_path / "images", tmp_path / "labels"
    images.mkdir()
    labels.mkdir()
    return images, labels


@pytest.fixture
def localiser(monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    """Replace the plate localiser (another module's job) with a stub: ``boxes`` is what it finds.

    Returns the stub's state; ``calls`` counts the images it was asked about.
    """
    state: dict[str, object] = {"boxes": [], "calls": 0}

    def localise(self: PlateReader, image: np.ndarray) -> list[PlateCandidate]:
        state["calls"] = int(state["calls"]) + 1  # type: ignore[call-overload]
        return [PlateCandidate(box, "localiser:stub") for box in state["boxes"]]  # type: ignore[attr-defined]

    monkeypatch.setattr(PlateReader, "localise", localise)
    return state


def results_lines(path: Path) -> list[tuple[str, str]]:
    text = path.read_text(encoding="utf-8")
    assert text.endswith("\n")
    return [tuple(line.split(",")) for line in text.splitlines()]  # type: ignore[misc]


def run(images: Path, labels: Path | None, model: Path, out: Path, *extra: str) -> int:
    argv = ["--images", str(images), "--model", str(model), "--output", str(out), "-q", *PORT_FLAGS, *extra]
    if labels is not None:
        argv += ["--labels", str(labels)]
    return recognize_plates.main(argv)


def test_folder_with_broken_files_exits_1_and_writes_every_line(
    tiny_model, folders, rendered_plate, localiser, tmp_path, capsys
):
    images, labels = folders
    plate, _ = rendered_plate(GOOD)
    write_photo(images, labels, GOOD, plate)
    (images / f"{ZERO_BYTES}.jpg").write_bytes(b"")
    (images / f"{NOT_AN_IMAGE}.jpg").write_text("this is not a JPEG\n")
    for name in (ZERO_BYTES, NOT_AN_IMAGE):
        (labels / f"{name}.txt").write_text("0 0.5 0.5 0.3 0.1\n")
    # No label file, and the (stubbed) localiser finds nothing: this image cannot be read either.
    write_photo(images, None, NO_LABEL, plate)
    (images / "notes.txt").write_text("ignored: not an image suffix")
    out = tmp_path / "out" / "LicenseResults.txt"

    code = run(images, labels, tiny_model, out)
    captured = capsys.readouterr()

    assert code == 1
    rows = results_lines(out)
    assert [name for name, _ in rows] == sorted([GOOD, ZERO_BYTES, NOT_AN_IMAGE, NO_LABEL])
    readings = dict(rows)
    assert SPANISH_PLATE.match(readings[GOOD]), readings[GOOD]  # 7 characters in the NNNNAAA format
    for broken in (ZERO_BYTES, NOT_AN_IMAGE, NO_LABEL):
        assert readings[broken] == ""
        assert broken in captured.err
    assert GOOD not in captured.err
    assert localiser["calls"] == 1  # only the image without a label file needed it
    assert re.search(r"Total Hits = \d+ from 4 images", captured.out)


def test_image_without_label_file_is_read_from_the_localisers_box(
    tiny_model, folders, rendered_plate, localiser, tmp_path
):
    images, labels = folders
    box = write_photo(images, None, NO_LABEL, rendered_plate(NO_LABEL)[0])
    localiser["boxes"] = [expand_box(box, 0.06, 640, 480)]
    result = PlateReader(tiny_model, PORT_CONFIG).read_image(images / f"{NO_LABEL}.jpg", labels)
    assert result.error == ""
    assert result.source == "localiser:stub"
    assert SPANISH_PLATE.match(result.text), result.text


def test_no_labels_flag_ignores_the_label_files(tiny_model, folders, rendered_plate, localiser, tmp_path):
    images, labels = folders
    plate_box = write_photo(images, labels, GOOD, rendered_plate(GOOD)[0])
    # The label file is right, but with --no-labels only the localiser (here: a box on empty car body) counts.
    localiser["boxes"] = [Box(plate_box.x, 20, plate_box.w, plate_box.h)]
    assert plate_box.y > 20 + plate_box.h
    out = tmp_path / "LicenseResults.txt"
    code = run(images, labels, tiny_model, out, "--no-labels")
    assert localiser["calls"] == 1
    assert results_lines(out) == [(GOOD, "")]
    assert code in (0, 1)
    with_labels = tmp_path / "with_labels.txt"
    assert run(images, labels, tiny_model, with_labels) == 0
    assert localiser["calls"] == 1  # not asked again: the label file was used
    assert SPANISH_PLATE.match(results_lines(with_labels)[0][1])


def test_clean_folder_exits_0(tiny_model, folders, rendered_plate, tmp_path):
    images, labels = folders
    for text in ("2745BCD", "8093MWX"):
        write_photo(images, labels, text, rendered_plate(text)[0])
    out = tmp_path / "LicenseResults.txt"
    assert run(images, labels, tiny_model, out) == 0
    rows = results_lines(out)
    assert [name for name, _ in rows] == ["2745BCD", "8093MWX"]
    assert all(SPANISH_PLATE.match(reading) for _, reading in rows)


def test_only_spanish_names_unless_all(folders):
    images, _ = folders
    for name in (GOOD, "AB123CD", "1234ABC", "12345BC", "0000BBB"):
        cv2.imwrite(str(images / f"{name}.jpg"), np.zeros((20, 20, 3), np.uint8))
    assert [p.stem for p in list_images(images, include_all=False)] == ["0000BBB", GOOD]
    assert [p.stem for p in list_images(images, include_all=True)] == sorted(
        ["0000BBB", "1234ABC", "12345BC", GOOD, "AB123CD"]
    )


def test_missing_model_exits_2_and_points_to_train_cnn(folders, tmp_path, capsys):
    images, labels = folders
    out = tmp_path / "LicenseResults.txt"
    assert run(images, labels, tmp_path / "none.h5", out) == 2
    assert "train_cnn" in capsys.readouterr().err
    assert not out.exists()


def test_missing_image_folder_exits_2(tiny_model, tmp_path, capsys):
    assert run(tmp_path / "nowhere", None, tiny_model, tmp_path / "o.txt") == 2
    assert "nowhere" in capsys.readouterr().err


def copy_model(model: Path, to: Path) -> Path:
    """The ``.h5`` and its ``.onnx`` export copied to ``to`` (``.h5``), without the sidecar."""
    for suffix in (".h5", ".onnx"):
        to.with_suffix(suffix).write_bytes(model.with_suffix(suffix).read_bytes())
    return to


def test_corrupt_model_or_wrong_class_map_is_a_setup_error(tiny_model, tmp_path):
    corrupt = tmp_path / "corrupt.h5"
    corrupt.write_bytes(b"\x89HDF\r\n\x1a\n not really")
    corrupt.with_suffix(".onnx").write_bytes(b"\x08\x07 not really")
    with pytest.raises(SetupError, match="corrupt.onnx: cannot load ONNX model"):
        load_model(corrupt)
    wrong = copy_model(tiny_model, tmp_path / "wrong.h5")
    wrong.with_suffix(".json").write_text('{"classes": "0123456789"}')
    with pytest.raises(SetupError, match="class map"):
        load_model(wrong)


def test_sidecar_that_is_not_a_json_object_is_a_setup_error(tiny_model, tmp_path):
    odd = copy_model(tiny_model, tmp_path / "odd.h5")
    odd.with_suffix(".json").write_text("[1, 2, 3]")
    with pytest.raises(SetupError, match="odd.json"):
        load_model(odd)


def test_sidecar_preprocessing_is_used_by_the_reader(tiny_model):
    _, preprocess = load_model(tiny_model)
    assert preprocess == PreprocessConfig()


def test_label_box_of_a_1000x600_image_crops_the_plate(tiny_model, folders, rendered_plate, tmp_path):
    images, labels = folders
    plate, _ = rendered_plate(GOOD)
    width, height = 1000, 600
    box = write_photo(images, labels, GOOD, plate, size=(width, height), at=(430, 410))

    reader = PlateReader(tiny_model, PORT_CONFIG)
    result = reader.read_image(images / f"{GOOD}.jpg", labels)
    assert result.error == ""
    assert result.source == "label"
    expected = expand_box(box, RecognizeConfig().plate_margin, width, height)
    assert result.box is not None
    np.testing.assert_allclose(result.box.as_tuple(), expected.as_tuple(), atol=2)
    assert len(result.text) == 7 and SPANISH_PLATE.match(result.text)
    assert 0.0 <= result.confidence <= 1.0 and len(result.char_probs) == 7
    assert count_hits([result]) == int(result.text == GOOD)

    out = tmp_path / "LicenseResults.txt"
    assert run(images, labels, tiny_model, out) == 0
    assert results_lines(out) == [(GOOD, result.text)]  # same reading from the CLI


def test_label_box_off_the_plate_reads_nothing_useful(tiny_model, folders, rendered_plate, localiser):
    # Guard for the test above: a box in the wrong place (as a 416 x 416 assumption would give) finds no plate.
    images, labels = folders
    plate, _ = rendered_plate(GOOD)
    width, height = 1000, 600
    write_photo(images, None, GOOD, plate, size=(width, height), at=(430, 410))
    x, y, w, h = (round(v * 416 / size) for v, size in ((430, width), (410, height), (520, width), (110, height)))
    wrong = Box(x, y, w, h)
    (labels / f"{GOOD}.txt").write_text(yolo_line(0, wrong, width, height))
    result = PlateReader(tiny_model, PORT_CONFIG).read_image(images / f"{GOOD}.jpg", labels)
    assert result.text == ""


def test_a_label_box_with_nothing_in_it_is_still_the_box_read(tiny_model, folders):
    """Nothing seen in a label's box: the record still names the box it read, so the answer can be checked."""
    images, labels = folders
    blank = np.full((300, 500, 3), 128, np.uint8)
    cv2.imwrite(str(images / f"{GOOD}.jpg"), blank)
    box = Box(100, 120, 200, 50)
    (labels / f"{GOOD}.txt").write_text(yolo_line(0, box, 500, 300))
    for mode in ("plate", "both"):
        result = PlateReader(tiny_model, RecognizeConfig(reader=mode)).read_image(images / f"{GOOD}.jpg", labels)
        assert result.error == "" and result.text == ""
        assert result.source == "label" and result.box is not None
        expected = expand_box(box, RecognizeConfig().plate_margin, 500, 300)
        np.testing.assert_allclose(result.box.as_tuple(), expected.as_tuple(), atol=2)


def test_unknown_filter_name_is_a_usage_error(tmp_path, capsys):
    assert recognize_plates.main(["--filters", "blur_otsu,sharpen_lots", "--output", str(tmp_path / "o.txt")]) == 2
    err = capsys.readouterr().err
    assert "sharpen_lots" in err and "blur_otsu" in err
    assert not (tmp_path / "o.txt").exists()


def test_filter_bank_flag_sets_the_variants_read(tiny_model, folders, rendered_plate, tmp_path):
    images, labels = folders
    write_photo(images, labels, GOOD, rendered_plate(GOOD)[0])
    assert recognize_plates.parse_args(["--filters", "all"]).filters == tuple(FILTERS)
    assert recognize_plates.parse_args(["--filters", "max_filter, blur_otsu"]).filters == ("max_filter", "blur_otsu")
    out = tmp_path / "LicenseResults.txt"
    assert run(images, labels, tiny_model, out, "--filters", "blur_otsu", "--no-rectify") == 0
    assert [name for name, _ in results_lines(out)] == [GOOD]


def test_one_model_call_gives_the_same_probabilities_for_any_batch_size(tiny_model):
    reader = PlateReader(tiny_model)
    size = reader.chars.preprocess.size
    x = np.random.default_rng(3).random((70, size, size, 1), dtype=np.float32)
    whole = reader.chars.predict(x)
    assert whole.shape == (70, 36)
    np.testing.assert_allclose(whole.sum(axis=1), 1.0, rtol=1e-5)
    for n in (1, 5, 33):
        np.testing.assert_allclose(reader.chars.predict(x[:n]), whole[:n], atol=1e-5)
    assert reader.chars.predict(x[:0]).shape == (0, 36)


def test_the_localisers_square_boxes_are_read_grown_by_the_labels_margin(tiny_model, monkeypatch):
    # A square box (a two-row plate, or a plate turned inside its box) falls inside the plate, where
    # a label's box reaches past it; a one-row plate's wide box is read as the localiser gave it.
    import plateocr.localize
    from plateocr.localize import Candidate

    wide, square = Box(100, 100, 200, 40), Box(580, 410, 60, 50)
    found = [Candidate(wide.as_tuple(), 5.0, "chars"), Candidate(square.as_tuple(), 4.0, "chars")]
    monkeypatch.setattr(plateocr.localize, "find_plate_candidates", lambda image, k: found[:k])
    reader = PlateReader(tiny_model, PORT_CONFIG)
    candidates = reader.localise(np.zeros((460, 640, 3), np.uint8))
    assert [c.source for c in candidates] == ["localiser:chars", "localiser:chars"]
    assert candidates[0].box == wide
    grown = expand_box(square, PORT_CONFIG.plate_margin, 640, 460)
    assert candidates[1].box == grown != square
    assert grown.x2 == 640 and grown.y2 == 460  # clipped to the photo
    assert candidates[0].prior == 1.0 > candidates[1].prior


def test_the_first_box_is_also_read_tight_a_labels_or_the_localisers(tiny_model, monkeypatch, tmp_path):
    # The localiser's boxes reach past the plate, and an upright box around a turned plate holds much
    # besides it: the first box is also read shrunk about its centre, as a crop of that box (whose
    # answer it must agree with), with the same prior.
    import plateocr.level
    import plateocr.localize
    from plateocr.localize import Candidate

    found = [Candidate((100, 100, 200, 40), 5.0, "chars"), Candidate((400, 300, 120, 30), 4.0, "band")]
    monkeypatch.setattr(plateocr.localize, "find_plate_candidates", lambda image, k: found[:k])
    image = np.zeros((460, 640, 3), np.uint8)
    photo = tmp_path / "1234BCD.jpg"
    candidates = PlateReader(tiny_model, PORT_CONFIG).candidates(image, photo, None)
    assert PORT_CONFIG.tight_shares == (0.8, 0.7)
    assert [c.source for c in candidates] == ["localiser:chars", "localiser:band"] + ["localiser:chars:tight"] * 2
    tight = candidates[2:]
    assert [c.box for c in tight] == [Box(120, 104, 160, 32), Box(130, 106, 140, 28)]  # 0.8 and 0.7 of 200 x 40, same centre
    assert [(c.prior, c.tightens) for c in tight] == [(candidates[0].prior, 0)] * 2
    assert [c.tightens for c in candidates[:2]] == [-1, -1]
    two = PlateReader(tiny_model, replace(PORT_CONFIG, tight_candidates=2, tight_shares=(0.5,))).candidates(image, photo, None)
    assert [c.box for c in two[2:]] == [Box(150, 110, 100, 20), Box(430, 307, 60, 15)]
    assert [c.tightens for c in two[2:]] == [0, 1]
    # A box so small that both shares shrink it to the 8 x 4 px floor gives one crop, not two alike.
    found[0] = Candidate((100, 100, 10, 4), 5.0, "chars")
    small = PlateReader(tiny_model, PORT_CONFIG).candidates(image, photo, None)
    assert [(c.box, c.tightens) for c in small[2:]] == [(Box(101, 100, 8, 4), 0)]

    # A label's box (grown by the labels' margin), and a box given with the image, likewise where the
    # plate in it is turned by tight_min_tilt or more; not a level plate's box.
    (tmp_path / "1234BCD.txt").write_text(yolo_line(0, Box(200, 200, 100, 100), 640, 460) + "\n")
    image = np.full((460, 640, 3), 90, np.uint8)
    plate = np.full((24, 90, 3), 235, np.uint8)
    for k in range(7):  # dark strokes on a light plate, turned by 20 degrees inside the box
        cv2.rectangle(plate, (6 + 12 * k, 5), (12 + 12 * k, 19), (20, 20, 20), -1)
    turn = cv2.getRotationMatrix2D((45, 12), 20, 1.0)
    turn[:, 2] += (250 - 45, 250 - 12)
    cv2.warpAffine(plate, turn, (640, 460), image, borderMode=cv2.BORDER_TRANSPARENT)
    assert abs(plateocr.level.plate_tilt(image[194:306, 194:306])) >= PORT_CONFIG.tight_min_tilt
    labelled = PlateReader(tiny_model, PORT_CONFIG).candidates(image, photo, tmp_path)
    grown = expand_box(Box(200, 200, 100, 100), PORT_CONFIG.plate_margin, 640, 460)
    assert [(c.source, c.box, c.tightens) for c in labelled] == [
        ("label", grown, -1), ("label:tight", Box(grown.x + 11, grown.y + 11, 90, 90), 0),
        ("label:tight", Box(grown.x + 17, grown.y + 17, 78, 78), 0),
    ]
    given = PlateReader(tiny_model, PORT_CONFIG).given_box(image, Box(200, 200, 100, 100))
    assert [(c.source, c.box) for c in given] == [("given", grown)] + [("given:tight", c.box) for c in labelled[1:]]
    assert PlateReader(tiny_model, replace(PORT_CONFIG, tight_candidates=0)).given_box(image, grown)[1:] == []
    level = np.full((460, 640, 3), 90, np.uint8)
    level[238:262, 205:295] = cv2.resize(plate, (90, 24))
    assert [c.source for c in PlateReader(tiny_model, PORT_CONFIG).given_box(level, Box(200, 200, 100, 100))] == ["given"]
    assert [c.source for c in PlateReader(tiny_model, replace(PORT_CONFIG, tight_min_tilt=0.0)).given_box(
        level, Box(200, 200, 100, 100))] == ["given", "given:tight", "given:tight"]
    with pytest.raises(ValueError, match="tight shares"):
        replace(PORT_CONFIG, tight_shares=(0.8, 0.2)).validate()
    with pytest.raises(ValueError, match="tight shares"):
        replace(PORT_CONFIG, tight_shares=(0.8, 0.8)).validate()  # one crop read twice would confirm itself


def test_a_plate_already_cut_out_is_read_whole_before_the_localisers_boxes(tiny_model, monkeypatch, tmp_path):
    # In a crop that a plate fills, the localiser finds at best a part of it (the band of characters):
    # an image as wide as a one-row plate, or every image with --crops, is first read whole, as a box
    # that holds surroundings (cut tight like the localiser's); a label file still comes first.
    import plateocr.localize
    from plateocr.localize import Candidate

    found = [Candidate((30, 10, 200, 50), 5.0, "band")]
    monkeypatch.setattr(plateocr.localize, "find_plate_candidates", lambda image, k: found[:k])
    photo = tmp_path / "1234BCD.png"
    wide, square = np.zeros((80, 300, 3), np.uint8), np.zeros((300, 300, 3), np.uint8)
    candidates = PlateReader(tiny_model, PORT_CONFIG).candidates(wide, photo, tmp_path)
    assert PORT_CONFIG.crop_aspect == 2.0 and not PORT_CONFIG.crops
    assert [(c.source, c.box, c.tightens) for c in candidates] == [
        ("image", Box(0, 0, 300, 80), -1), ("localiser:band", Box(30, 10, 200, 50), -1),
        ("image:tight", Box(30, 8, 240, 64), 0), ("image:tight", Box(45, 12, 210, 56), 0),
    ]
    assert candidates[0].prior == 1.0
    assert [c.source for c in PlateReader(tiny_model, PORT_CONFIG).candidates(square, photo, None)] == [
        "localiser:band", "localiser:band:tight", "localiser:band:tight"
    ]
    narrow = np.zeros((160, 319, 3), np.uint8)  # just under two heights wide: a photo's shape, not a plate's
    assert "image" not in [c.source for c in PlateReader(tiny_model, PORT_CONFIG).candidates(narrow, photo, None)]
    # A small image (a square two-row crop, or a photo too small to hold a readable plate but its own) is
    # read whole after the localiser's boxes, which keep their tight crops.
    small = np.zeros((100, 120, 3), np.uint8)
    assert PORT_CONFIG.crop_size == 256
    assert [(c.source, c.box) for c in PlateReader(tiny_model, PORT_CONFIG).candidates(small, photo, None)] == [
        ("localiser:band", Box(30, 10, 200, 50)), ("image", Box(0, 0, 120, 100)),
        ("localiser:band:tight", Box(50, 15, 160, 40)), ("localiser:band:tight", Box(60, 17, 140, 35)),
    ]
    assert "image" not in [c.source for c in PlateReader(tiny_model, replace(PORT_CONFIG, crop_size=0)).candidates(small, photo, None)]
    crops = PlateReader(tiny_model, replace(PORT_CONFIG, crops=True)).candidates(square, photo, None)
    assert [(c.source, c.box) for c in crops[:2]] == [("image", Box(0, 0, 300, 300)), ("localiser:band", Box(30, 10, 200, 50))]
    off = PlateReader(tiny_model, replace(PORT_CONFIG, crop_aspect=0.0)).candidates(wide, photo, None)
    assert [c.source for c in off] == ["localiser:band", "localiser:band:tight", "localiser:band:tight"]
    found.clear()  # nothing found by the localiser: a crop is still read, a photo has no box to read
    assert [c.source for c in PlateReader(tiny_model, PORT_CONFIG).candidates(wide, photo, None)][:1] == ["image"]
    assert PlateReader(tiny_model, PORT_CONFIG).candidates(square, photo, None) == []
    assert [c.source for c in PlateReader(tiny_model, PORT_CONFIG).candidates(small, photo, None)] == ["image"] + ["image:tight"] * 2
    (tmp_path / "1234BCD.txt").write_text(yolo_line(0, Box(20, 10, 250, 60), 300, 80) + "\n")
    assert {c.source for c in PlateReader(tiny_model, replace(PORT_CONFIG, crops=True)).candidates(wide, photo, tmp_path)} == {"label"}
    with pytest.raises(ValueError, match="crop aspect"):
        replace(PORT_CONFIG, crop_aspect=0.5).validate()
    with pytest.raises(ValueError, match="crop size"):
        replace(PORT_CONFIG, crop_size=-1).validate()
    assert recognize_plates.reader_config(recognize_plates.parse_args(["--crops"])).crops
    assert not recognize_plates.reader_config(recognize_plates.parse_args([])).crops


def test_a_plate_crop_file_is_read_from_the_whole_image(tiny_model, monkeypatch, tmp_path):
    # End to end, where the localiser finds nothing in the crop: a rendered plate saved as a cut-out
    # crop is read from the whole image; a square crop only with --crops (else: no plate box found).
    import json

    import plateocr.localize

    monkeypatch.setattr(plateocr.localize, "find_plate_candidates", lambda image, k: [])
    plate, _ = conftest.draw_plate(GOOD)
    wide = cv2.copyMakeBorder(plate, 6, 6, 10, 10, cv2.BORDER_CONSTANT, value=(90, 90, 90))
    square = cv2.copyMakeBorder(plate, 200, 200, 10, 10, cv2.BORDER_CONSTANT, value=(90, 90, 90))
    assert wide.shape[1] >= 2 * wide.shape[0] and square.shape[1] < 2 * square.shape[0]
    cv2.imwrite(str(tmp_path / f"{GOOD}.png"), wide)
    cv2.imwrite(str(tmp_path / "3000BBB.png"), square)

    def records(code: int, *extra: str) -> dict[str, dict]:
        out = tmp_path / "out.json"
        argv = [str(tmp_path / f"{GOOD}.png"), str(tmp_path / "3000BBB.png"), "--model", str(tiny_model),
                "--output", str(tmp_path / "LR.txt"), "--json", str(out), "-q", *PORT_FLAGS, *extra]  # fmt: skip
        assert recognize_plates.main(argv) == code  # 1: an image failed
        return {r["name"]: r for r in json.loads(out.read_text(encoding="utf-8"))["results"]}

    got = records(1)
    assert got[GOOD]["error"] is None and got[GOOD]["box_source"].startswith("image"), got[GOOD]
    assert SPANISH_PLATE.match(got[GOOD]["reading"]), got[GOOD]  # the port at confidence 0 always answers
    assert got[GOOD]["box"] == {"x": 0, "y": 0, "w": wide.shape[1], "h": wide.shape[0]} or got[GOOD]["box_source"] == "image:tight"
    assert "no plate box found" in got["3000BBB"]["error"] and got["3000BBB"]["reading"] == ""
    got = records(0, "--crops")
    assert got["3000BBB"]["error"] is None and got["3000BBB"]["box_source"].startswith("image"), got["3000BBB"]
    assert got[GOOD]["reading"] == records(1)[GOOD]["reading"]
