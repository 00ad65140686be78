"""Everyday use of ``recognize_plates.py``: inputs, JSON/CSV, pictures, --jobs, exit codes; the training report."""

from __future__ import annotations

import csv
import io
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from PIL import Image
from test_recognize_cli import GOOD, results_lines, write_photo

import recognize_plates
from config import CLASSES, SPANISH_PLATE
from plateocr.annotate import annotate, save_crop
from plateocr.errors import InputError, SetupError
from plateocr.imageio import decode_image
from plateocr.inputs import collect_inputs, folder_images, printable, unique_names
from plateocr.plates import Box
from conftest import PORT_FLAGS
from plateocr.batch import recognize_folder
from plateocr.record import ImageResult
from plateocr.report import confusion_matrix, per_class_csv, report_paths, write_training_report
from plateocr.results import CSV_COLUMNS, check_writable, results_csv_text, write_results
from plateocr.train import TrainResult

OTHER = "8093MWX"


def touch_image(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".heic":  # OpenCV writes no HEIC; Pillow does through pillow-heif
        Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(path, format="HEIF")
    else:
        cv2.imwrite(str(path), np.zeros((16, 16, 3), np.uint8))
    return path


def cli(*argv: str) -> int:
    return recognize_plates.main([*argv, "-q"])


def names(paths: list[Path], root: Path) -> list[str]:
    return [p.relative_to(root).as_posix() for p in paths]


def leftovers(folder: Path) -> list[str]:
    """Temporary files left anywhere under ``folder``."""
    return [p.name for p in folder.rglob("*") if ".tmp" in p.name]


# ---------------------------------------------------------------- inputs


def test_folder_images_are_sorted_skip_hidden_and_non_images_and_recurse_on_request(tmp_path):
    for rel in ("b.jpg", "a.PNG", "c.webp", "d.tif", "e.bmp", "f.jpeg", "g.HEIC", "sub/z.jpg", "sub/deeper/y.png"):
        touch_image(tmp_path / rel)
    (tmp_path / "notes.txt").write_text("x")
    touch_image(tmp_path / ".hidden.jpg")
    touch_image(tmp_path / ".cache" / "x.jpg")
    assert names(folder_images(tmp_path), tmp_path) == ["a.PNG", "b.jpg", "c.webp", "d.tif", "e.bmp", "f.jpeg", "g.HEIC"]
    assert names(folder_images(tmp_path, recursive=True), tmp_path) == [
        "a.PNG", "b.jpg", "c.webp", "d.tif", "e.bmp", "f.jpeg", "g.HEIC", "sub/deeper/y.png", "sub/z.jpg",
    ]  # fmt: skip


def test_recursive_listing_survives_a_symlink_loop(tmp_path):
    touch_image(tmp_path / "sub" / "a.jpg")
    os.symlink(tmp_path, tmp_path / "sub" / "loop")
    assert names(folder_images(tmp_path, recursive=True), tmp_path) == ["sub/a.jpg"]


def test_collect_inputs_keeps_argument_order_reads_named_files_whatever_their_suffix_and_dedupes(tmp_path):
    folder = tmp_path / "photos"
    touch_image(folder / "2.jpg")
    touch_image(folder / "1.jpg")
    odd = tmp_path / "scan.data"
    odd.write_bytes(b"named by the user: read (and fail) rather than skip")
    got = collect_inputs([odd, folder, folder / "1.jpg"])
    assert got == [odd, folder / "1.jpg", folder / "2.jpg"]


def test_collect_inputs_rejects_a_missing_path(tmp_path):
    with pytest.raises(SetupError, match="nowhere.jpg"):
        collect_inputs([tmp_path / "nowhere.jpg"])


def test_unique_names_are_stems_unless_two_images_share_one(tmp_path):
    assert unique_names([tmp_path / "a" / "1234BCD.jpg", tmp_path / "5678FGH.png"]) == ["1234BCD", "5678FGH"]
    paths = [tmp_path / "a" / "1234BCD.jpg", tmp_path / "b" / "1234BCD.jpg", tmp_path / "b" / "1234BCD.png",
             tmp_path / "b" / "5678FGH.jpg"]  # fmt: skip
    assert unique_names(paths) == ["a/1234BCD.jpg", "b/1234BCD.jpg", "b/1234BCD.png", "5678FGH"]


def test_printable_names_stay_one_utf8_line():
    assert printable("matrícula ñ") == "matrícula ñ"
    assert printable("bad\udce9byte") == "bad?byte"  # an undecodable byte from the file system
    assert printable("two\nlines\r") == "two?lines?"
    printable("bad\udce9byte").encode("utf-8")


# ---------------------------------------------------------------- JSON / CSV / pictures


def sample_results(tmp_path: Path) -> list[ImageResult]:
    ok = ImageResult(name=GOOD, path=tmp_path / f"{GOOD}.jpg", text=GOOD, confidence=0.87654,
                     char_probs=(0.9, 0.95, 0.99, 0.97, 0.88, 0.87654, 0.9), box=Box(10, 20, 130, 30),
                     source="label", seconds=0.1234, raw_text=GOOD, format="spanish")  # fmt: skip
    bad = ImageResult(name="x", path=tmp_path / "sub" / "x.jpg", error="x.jpg: empty file", seconds=0.001)
    bad.output_name = "sub/x.jpg"
    return [ok, bad]


def test_json_and_csv_hold_every_field_and_license_results_keeps_its_format(tmp_path):
    results = sample_results(tmp_path)
    out = tmp_path / "out"
    failures = write_results(results, out / "LR.txt", out / "r.json", out / "r.csv", model="m.h5")
    assert failures == []
    assert (out / "LR.txt").read_text() == f"{GOOD},{GOOD}\nsub/x.jpg,\n"
    doc = json.loads((out / "r.json").read_text(encoding="utf-8"))
    assert doc["model"] == "m.h5" and doc["images"] == 2 and doc["failed"] == 1
    first, second = doc["results"]
    assert first == {
        "name": GOOD, "file": str(tmp_path / f"{GOOD}.jpg"), "reading": GOOD, "confidence": 0.8765,
        "char_probs": [0.9, 0.95, 0.99, 0.97, 0.88, 0.8765, 0.9], "box": {"x": 10, "y": 20, "w": 130, "h": 30},
        "box_source": "label", "seconds": 0.123, "error": None, "raw_text": GOOD, "format": "spanish",
        "uncertain_reading": None,
    }  # fmt: skip
    assert second["box"] is None and second["error"] == "x.jpg: empty file" and second["reading"] == ""
    rows = list(csv.DictReader(io.StringIO((out / "r.csv").read_text(encoding="utf-8"))))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert rows[0]["box_x"] == "10" and rows[0]["char_probs"].split()[5] == "0.8765"
    assert rows[0]["raw_text"] == GOOD and rows[0]["format"] == "spanish" and rows[1]["format"] == ""
    assert rows[1]["name"] == "sub/x.jpg" and rows[1]["box_w"] == "" and rows[1]["error"] == "x.jpg: empty file"
    assert leftovers(out) == []


def test_csv_quotes_names_with_commas(tmp_path):
    result = ImageResult(name="a,b", path=tmp_path / "a,b.jpg")
    row = next(csv.DictReader(io.StringIO(results_csv_text([result]))))
    assert row["name"] == "a,b"


def test_one_unwritable_output_does_not_stop_the_others(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("a regular file, so nothing can be created below it")
    failures = write_results(sample_results(tmp_path), tmp_path / "LR.txt", blocker / "r.json", tmp_path / "r.csv")
    assert [path for path, _ in failures] == [blocker / "r.json"]
    assert (tmp_path / "LR.txt").is_file() and (tmp_path / "r.csv").is_file()


def test_check_writable_refuses_a_parent_that_is_a_file_and_a_folder_used_as_a_file(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(OSError):
        check_writable(blocker / "LicenseResults.txt")
    with pytest.raises(OSError):
        check_writable(tmp_path)
    with pytest.raises(OSError):
        check_writable(blocker, directory=True)
    check_writable(tmp_path / "new" / "dir", directory=True)
    assert (tmp_path / "new" / "dir").is_dir()


def test_annotation_draws_on_a_copy_and_the_crop_is_the_box(tmp_path):
    image = np.full((200, 300, 3), 128, np.uint8)
    result = sample_results(tmp_path)[0]
    drawn = annotate(image, result)
    assert (image == 128).all()  # the original is untouched
    assert drawn.shape == image.shape and (drawn != 128).any(axis=2).sum() > 200
    assert tuple(drawn[30, 10]) == (0, 200, 0)  # the box's left edge
    path = save_crop(tmp_path / "crops", image, result, "sub/name")
    assert path == tmp_path / "crops" / "sub" / "name.png"
    assert cv2.imread(str(path)).shape == (30, 130, 3)
    assert save_crop(tmp_path / "crops", image, ImageResult(name="n", path=tmp_path), "n") is None
    assert annotate(image, ImageResult(name="n", path=tmp_path)).shape == image.shape  # no box: caption only


# ---------------------------------------------------------------- the CLI


@pytest.fixture
def photos(tmp_path: Path, rendered_plate) -> tuple[Path, Path]:
    """Two labelled photos in ``photos/`` (GOOD and OTHER) and their label folder."""
    images, labels = tmp_path / "photos", tmp_path / "labels"
    images.mkdir()
    labels.mkdir()
    for text in (GOOD, OTHER):
        write_photo(images, labels, text, rendered_plate(text)[0])
    return images, labels


def test_help_exits_0_and_documents_the_exit_codes(capsys):
    assert recognize_plates.main(["--help"]) == 0
    out = capsys.readouterr().out
    for text in ("--json", "--csv", "--save-annotated", "--save-crops", "--jobs", "--recursive", "exit codes", "130"):
        assert text in out


@pytest.mark.parametrize(
    "argv", [["--no-such-flag"], ["--jobs", "-1"], ["--jobs", "two"], ["x.jpg", "--images", "folder"]]
)
def test_usage_errors_exit_2_without_raising(argv, capsys):
    assert recognize_plates.main(argv) == 2
    assert "usage:" in capsys.readouterr().err


def test_positional_files_and_folders_with_json_csv_and_pictures(tiny_model, photos, tmp_path):
    images, labels = photos
    extra = tmp_path / "more" / "deep"
    extra.mkdir(parents=True)
    # Same stem as a photo in images/: both must keep their own result.
    (extra / f"{GOOD}.jpg").write_bytes((images / f"{GOOD}.jpg").read_bytes())
    out = tmp_path / "out"
    code = cli(
        str(images / f"{OTHER}.jpg"), str(tmp_path / "more"), str(images), "--recursive",
        "--labels", str(labels), "--model", str(tiny_model), "--output", str(out / "LR.txt"),
        "--json", str(out / "r.json"), "--csv", str(out / "r.csv"),
        "--save-annotated", str(out / "annotated"), "--save-crops", str(out / "crops"),
        *PORT_FLAGS,  # the port answers every photo: every output holds a reading to check
    )  # fmt: skip
    assert code == 0
    rows = results_lines(out / "LR.txt")
    assert [name for name, _ in rows] == [OTHER, f"more/deep/{GOOD}.jpg", f"photos/{GOOD}.jpg"]
    assert all(SPANISH_PLATE.match(reading) for _, reading in rows)
    doc = json.loads((out / "r.json").read_text(encoding="utf-8"))
    assert [r["name"] for r in doc["results"]] == [name for name, _ in rows]
    for record in doc["results"]:
        assert record["box_source"] == "label" and record["error"] is None
        assert len(record["char_probs"]) == 7 and 0 < record["confidence"] <= 1
        box = record["box"]
        assert 0 <= box["x"] and box["x"] + box["w"] <= 640 and 0 <= box["y"] and box["y"] + box["h"] <= 480
        annotated = cv2.imread(str(out / "annotated" / f"{record['name']}.png"))
        crop = cv2.imread(str(out / "crops" / f"{record['name']}.png"))
        assert annotated.shape == (480, 640, 3)
        assert crop.shape == (box["h"], box["w"], 3)
    assert len(list(csv.DictReader(io.StringIO((out / "r.csv").read_text(encoding="utf-8"))))) == 3
    assert leftovers(tmp_path) == []


def test_jobs_2_gives_the_same_outputs_as_jobs_1(tiny_model, photos, tmp_path):
    images, labels = photos
    # Four more (copied) photos and labels, so each worker reads several.
    for i in range(4):
        (images / f"copy{i}.jpg").write_bytes((images / f"{GOOD}.jpg").read_bytes())
        (labels / f"copy{i}.txt").write_bytes((labels / f"{GOOD}.txt").read_bytes())
    docs = {}
    for jobs in (1, 2):
        out = tmp_path / f"jobs{jobs}"
        code = cli(str(images), "--labels", str(labels), "--model", str(tiny_model), "--jobs", str(jobs),
                   "--output", str(out / "LR.txt"), "--json", str(out / "r.json"))  # fmt: skip
        assert code == 0
        doc = json.loads((out / "r.json").read_text(encoding="utf-8"))
        for record in doc["results"]:
            record.pop("seconds")
        docs[jobs] = (doc, (out / "LR.txt").read_text())
    assert len(docs[1][0]["results"]) == 6
    assert docs[1] == docs[2]


def test_images_flag_keeps_its_meaning_spanish_names_only_unless_all(tiny_model, photos, tmp_path):
    images, labels = photos
    (images / "car.jpg").write_bytes((images / f"{GOOD}.jpg").read_bytes())
    out = tmp_path / "LR.txt"
    base = ["--images", str(images), "--labels", str(labels), "--model", str(tiny_model), "--output", str(out)]
    assert cli(*base) == 0
    assert [n for n, _ in results_lines(out)] == [GOOD, OTHER]
    assert cli(*base, "--all") == 0
    assert [n for n, _ in results_lines(out)] == [GOOD, OTHER, "car"]


# ---------------------------------------------------------------- the training report


def test_confusion_matrix_and_per_class_csv():
    y_true = np.array([0, 0, 0, 1, 1, 35])
    y_pred = np.array([0, 0, 1, 1, 1, 10])
    matrix = confusion_matrix(y_true, y_pred)
    assert matrix.shape == (36, 36) and matrix.sum() == 6
    assert matrix[0, 0] == 2 and matrix[0, 1] == 1 and matrix[35, 10] == 1
    rows = {r["class"]: r for r in csv.DictReader(io.StringIO(per_class_csv(matrix)))}
    assert list(rows) == list(CLASSES)
    assert rows["0"] == {"class": "0", "samples": "3", "correct": "2", "accuracy": "0.6667",
                         "most_confused_with": "1", "confused_count": "1"}  # fmt: skip
    assert rows["Z"]["most_confused_with"] == "A" and rows["Z"]["accuracy"] == "0.0000"
    assert rows["5"]["samples"] == "0" and rows["5"]["accuracy"] == ""


def test_training_report_files_are_written_beside_the_model(tmp_path):
    model = tmp_path / "models" / "m.h5"
    model.parent.mkdir()
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(36), 3)
    result = TrainResult(
        model_path=model, sidecar_path=model.with_suffix(".json"), val_accuracy=0.5, per_class_accuracy={},
        epochs_run=3, seconds=1.0,
        history={"loss": [2.0, 1.0, 0.5], "val_loss": [2.1, 1.2, 1.3], "accuracy": [0.2, 0.6, 0.8],
                 "val_accuracy": [0.2, 0.5, 0.5]},
        val_labels=y, val_predictions=np.where(rng.random(len(y)) < 0.7, y, rng.integers(0, 36, len(y))),
    )  # fmt: skip
    written = write_training_report(result)
    assert written == report_paths(model)
    assert sorted(p.name for p in model.parent.iterdir()) == ["m_confusion.png", "m_curves.png", "m_per_class.csv"]
    for key in ("curves", "confusion"):
        image = cv2.imread(str(written[key]))
        assert image is not None and min(image.shape[:2]) > 200
    assert len(written["per_class"].read_text().splitlines()) == 37


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("tty, quiet, shown", [(True, False, True), (True, True, False), (False, False, False)])
def test_progress_bar_only_on_a_terminal_and_not_with_quiet(tty, quiet, shown, monkeypatch):
    stream = Terminal() if tty else io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    with recognize_plates.progress(3, quiet) as advance:
        time.sleep(1.1)  # the bar waits a second, so short runs stay silent
        for _ in range(3):
            advance(1)
    assert ("/3 [" in stream.getvalue()) is shown


class FlakyReader:
    """Stands in for PlateReader: reads every image but one, which raises an unexpected error."""

    def read_image(self, path: Path, labels: Path | None) -> ImageResult:
        if path.stem == "bad":
            raise RuntimeError("something nobody foresaw\nsecond line")
        return ImageResult(name=path.stem, path=path, text="1234BCD")


def test_an_unexpected_error_in_one_image_is_that_images_error_and_the_batch_goes_on(tmp_path, caplog):
    paths = [tmp_path / "a.jpg", tmp_path / "bad.jpg", tmp_path / "c.jpg"]
    seen: list[str] = []
    reader: Any = FlakyReader()
    results = recognize_folder(reader, paths, None, on_result=lambda r: seen.append(r.output_name))
    assert [r.text for r in results] == ["1234BCD", "", "1234BCD"]
    assert results[1].error == f"{paths[1]}: RuntimeError: something nobody foresaw"
    assert results[1].output_name == "bad" and seen == ["a", "bad", "c"]
    assert "something nobody foresaw" in caplog.text  # logged as an error, once, with the file name


def test_min_confidence_leaves_uncertain_readings_empty_but_keeps_them_in_json(tiny_model, tmp_path, rendered_plate):
    images, labels = tmp_path / "images", tmp_path / "labels"
    images.mkdir()
    labels.mkdir()
    write_photo(images, labels, GOOD, rendered_plate(GOOD)[0])
    runs = {}
    for threshold in ("0", "1"):
        out = tmp_path / threshold
        argv = [str(images), "--labels", str(labels), "--model", str(tiny_model), "--output", str(out / "LR.txt"),
                "--json", str(out / "r.json"), "--min-confidence", threshold, "-q"]
        assert recognize_plates.main(argv) == 0
        runs[threshold] = json.loads((out / "r.json").read_text(encoding="utf-8"))["results"][0]
    permissive, strict = runs["0"], runs["1"]
    assert permissive["uncertain_reading"] is None
    if permissive["reading"] and permissive["confidence"] < 1.0:
        assert strict["reading"] == "" and strict["uncertain_reading"] == permissive["reading"]
    assert recognize_plates.main([str(images), "--min-confidence", "1.5", "-q"]) == 2


def test_a_heic_photo_decodes_like_its_source_and_turns_as_its_orientation_says():
    """HEIC (what phones save) is decoded by pillow-heif: the same pixels within its compression, and a
    stored orientation applied, as EXIF orientation is for JPEG."""
    rng = np.random.default_rng(4)
    source = cv2.GaussianBlur(rng.integers(0, 256, (120, 200, 3), dtype=np.uint8), (0, 0), 3)
    source[:12, :24] = 255
    plain, turned = io.BytesIO(), io.BytesIO()
    Image.fromarray(source[..., ::-1]).save(plain, format="HEIF", quality=95)
    exif = Image.Exif()
    exif[0x0112] = 6  # displayed turned 90 degrees clockwise
    Image.fromarray(source[..., ::-1]).save(turned, format="HEIF", quality=95, exif=exif.tobytes())
    decoded = decode_image(plain.getvalue(), "plain.heic")
    assert decoded.shape == source.shape and np.abs(decoded.astype(int) - source).mean() < 4
    upright = decode_image(turned.getvalue(), "turned.heic")
    np.testing.assert_allclose(upright.astype(int), np.rot90(source, -1).astype(int), atol=40)
    with pytest.raises(InputError, match="cut.heic"):
        decode_image(plain.getvalue()[:2000], "cut.heic")
