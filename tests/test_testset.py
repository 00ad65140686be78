"""Tests of the generated test set (``bench/testset.py``) and the peers benchmark's pure helpers."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest

import config
from bench import filter_bank, peers, testset
from plateocr.filters import FILTERS
from plateocr.plates import plate_boxes_from_labels
from plateocr.recognize import PlateReader


@pytest.fixture(scope="module")
def small_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return testset.write_testset(tmp_path_factory.mktemp("set") / "a", count=5, seed=7)


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_same_seed_gives_identical_bytes(small_set: Path, tmp_path: Path) -> None:
    again = testset.write_testset(tmp_path / "b", count=5, seed=7)
    assert _files(again) == _files(small_set)
    other = testset.write_testset(tmp_path / "c", count=5, seed=8)
    assert _files(other) != _files(small_set)


def test_rewriting_a_folder_drops_stale_files(tmp_path: Path) -> None:
    out = testset.write_testset(tmp_path / "d", count=5, seed=7)
    testset.write_testset(out, count=2, seed=7)
    assert len(list((out / "images").iterdir())) == len(list((out / "labels").iterdir())) == 2


def test_names_are_unique_spanish_plates_with_one_label_each(small_set: Path) -> None:
    images = sorted(p.stem for p in (small_set / "images").glob("*.jpg"))
    labels = sorted(p.stem for p in (small_set / "labels").glob("*.txt"))
    assert len(images) == 5 and images == labels
    assert all(config.SPANISH_PLATE.match(name) for name in images)


def test_label_box_is_inside_the_image_and_is_the_scene_plate_box(small_set: Path) -> None:
    scenes = {d.scene.text: d.scene for d in testset.generate(5, seed=7)}
    for image_path in (small_set / "images").glob("*.jpg"):
        image = cv2.imread(str(image_path))
        assert image is not None
        height, width = image.shape[:2]
        boxes = plate_boxes_from_labels(small_set / "labels" / f"{image_path.stem}.txt", width, height)
        assert len(boxes) == 1
        box = boxes[0]
        assert box.x >= 0 and box.y >= 0 and box.x2 <= width and box.y2 <= height
        scene = scenes[image_path.stem]
        assert scene.image.shape == image.shape
        assert np.abs(np.array(box.as_tuple()) - np.array(scene.plate_box)).max() <= 1


def test_plate_strings_are_unique_even_when_the_generator_repeats(monkeypatch: pytest.MonkeyPatch) -> None:
    texts = iter(["1234BCD", "1234BCD", "5678FGH"])
    monkeypatch.setattr(testset, "random_plate_text", lambda rng: next(texts))
    monkeypatch.setattr(testset, "draw_scene", lambda rng, text: text)
    assert testset.generate(2, seed=0) == ["1234BCD", "5678FGH"]


def test_canvases_hold_their_largest_plates() -> None:
    # make_scene refuses a plate wider than its canvas; the widest drawn plate leaves room for the warp.
    for canvas in testset.CANVASES:
        assert canvas.plate_widths[1] * 1.3 < canvas.width


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("E 1234-BCD", "1234BCD"),
        ("I234BCD", "1234BCD"),
        ("12O4 bcd", "1204BCD"),
        ("E1234BCD5", "1234BCD"),
        ("1234ABC", ""),  # vowels are not on Spanish plates
        ("1234BCE", ""),
        ("1234QBC", ""),
        ("O0OOBC0", ""),  # confusions are fixed in the digits only
        ("123BCD", ""),
        ("", ""),
    ],
)
def test_extract_spanish(text: str, expected: str) -> None:
    assert peers.extract_spanish(text) == expected


def test_an_exact_plate_wins_over_a_confusion_fix() -> None:
    assert peers.extract_spanish("I234BCD 5678FGH") == "5678FGH"


@pytest.mark.parametrize(
    ("reading", "truth", "expected"),
    [
        ("1234BCD", "1234BCD", 1.0),
        ("1234BCF", "1234BCD", 6 / 7),
        ("4321BCD", "1234BCD", 3 / 7),  # per position, not as a set
        ("234BCD", "1234BCD", 6 / 7),  # one missing character costs one
        ("91234BCD", "1234BCD", 6 / 7),  # one extra character costs one
        ("", "1234BCD", 0.0),
        ("XXXXXXXXXXXXXXX", "1234BCD", 0.0),  # floored at 0
    ],
)
def test_char_accuracy(reading: str, truth: str, expected: float) -> None:
    assert peers.char_accuracy(reading, truth) == pytest.approx(expected)


def test_edit_distance() -> None:
    assert peers.edit_distance("kitten", "sitting") == 3
    assert peers.edit_distance("", "abc") == peers.edit_distance("abc", "") == 3


def test_vote_spanish_keeps_only_plates_and_takes_the_majority() -> None:
    texts = ["1234 BCD\n", "B1234BCD", "1234BCF", "1234BCF", "1234BCD", "1234BCD", ""]
    assert peers.vote_spanish(texts) == "1234BCD"
    assert peers.vote_spanish(["1234ABC", "noise"]) == ""


def test_best_line_reading_prefers_the_most_confident_plate_and_joins_split_lines() -> None:
    assert peers.best_line_reading([("5678FGH", 0.6), ("E 1234 BCD", 0.9), ("ESPANA", 0.99)]) == "1234BCD"
    assert peers.best_line_reading([("1234", 0.9), ("BCD", 0.8)]) == "1234BCD"


def test_missing_tesseract_is_a_skipped_row(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(peers.shutil, "which", lambda name: None)
    reason = peers.make_engines(["tesseract"], reader=None, workdir=tmp_path)["tesseract"]  # type: ignore[arg-type]
    assert reason == "skipped: tesseract not installed (apt-get install -y tesseract-ocr)"
    row = peers.Row("set", "labels", "tesseract", skipped=reason)
    assert "skipped: tesseract not installed" in peers.format_table([row])


def _fake_tesseract(crash_on: set[int]) -> Callable[..., subprocess.CompletedProcess[str]]:
    """A stand-in for ``subprocess.run(["tesseract", list, ...])``: page i reads "P<width>", and the
    run dies like tesseract's SIGFPE at an image whose width is in ``crash_on``."""

    def run(command: list[str], **_: object) -> subprocess.CompletedProcess[str]:
        pages: list[str] = []
        for index, line in enumerate(Path(command[1]).read_text().splitlines()):
            stderr = "".join(f"Page {i} : v{i:03d}.png\n" for i in range(index + 1))
            image = cv2.imread(line, cv2.IMREAD_GRAYSCALE)
            assert image is not None
            if image.shape[1] in crash_on:
                return subprocess.CompletedProcess(command, -8, "\f".join(pages), stderr)
            pages.append(f"P{image.shape[1]}\n")
        return subprocess.CompletedProcess(command, 0, "\f".join(pages), stderr)

    return run


def test_tesseract_pages_stay_aligned_after_a_crash(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    images = [np.full((10, width), 255, np.uint8) for width in (11, 12, 13, 14, 15)]
    engine = peers.TesseractEngine(reader=None, workdir=tmp_path)  # type: ignore[arg-type]
    monkeypatch.setattr(peers.subprocess, "run", _fake_tesseract(set()))
    assert engine.ocr(images) == ["P11\n", "P12\n", "P13\n", "P14\n", "P15\n"]
    monkeypatch.setattr(peers.subprocess, "run", _fake_tesseract({13}))
    assert engine.ocr(images) == ["P11\n", "P12\n", "", "P14\n", "P15\n"]
    monkeypatch.setattr(peers.subprocess, "run", _fake_tesseract({11, 15}))
    assert engine.ocr(images) == ["", "P12\n", "P13\n", "P14\n", ""]


@pytest.mark.skipif(shutil.which("tesseract") is None, reason="tesseract not installed")
def test_real_tesseract_reads_a_drawn_plate_among_blank_pages(tmp_path: Path) -> None:
    plate = np.full((96, 420), 255, np.uint8)
    cv2.putText(plate, "1234BCD", (10, 75), cv2.FONT_HERSHEY_SIMPLEX, 2.5, 0, 8)
    blank = np.full((96, 420), 255, np.uint8)
    engine = peers.TesseractEngine(reader=None, workdir=tmp_path)  # type: ignore[arg-type]
    pages = engine.ocr([blank, plate, np.full((96, 8), 255, np.uint8), plate])
    assert len(pages) == 4
    assert peers.vote_spanish(pages) == "1234BCD"
    assert "".join(pages[1].split()) == "".join(pages[3].split()) == "1234BCD"


def test_filter_bank_bench_scores_a_bank_exactly_as_the_reader_reads(tiny_model, tmp_path: Path) -> None:
    """bench/filter_bank.py reads once with every filter and scores smaller banks offline: those
    offline readings must be the reader's own readings with that bank."""
    folder = testset.write_testset(tmp_path / "val", count=3, seed=99)
    readings = filter_bank.collect(tiny_model, folder)
    assert [mode for mode, _, _ in readings] == ["labels"] * 3 + ["no labels"] * 3
    images = sorted((folder / "images").glob("*.jpg"))
    for bank in (config.RecognizeConfig().filters, ("max_filter", "blur_otsu"), tuple(FILTERS)):
        reader = PlateReader(tiny_model, config.RecognizeConfig(filters=bank, reader="chars", min_confidence=0.0))
        expected = [reader.read_image(p, folder / "labels").text for p in images]
        expected += [reader.read_image(p, None).text for p in images]
        assert filter_bank.texts(readings, bank) == expected


def test_the_peers_benchmark_reads_the_generated_subsets_it_is_asked_for(tmp_path: Path) -> None:
    sets = peers.benchmark_datasets(tmp_path / "t6", tmp_path / "gen", " tilted,two_row ,")
    assert [d.name for d in sets] == ["test6Training", "generated", "generated tilted", "generated two_row"]
    assert sets[2].images == tmp_path / "gen" / "tilted" / "images"
    assert sets[3].labels == tmp_path / "gen" / "two_row" / "labels"
    assert [d.name for d in peers.benchmark_datasets(tmp_path, tmp_path)] == ["test6Training", "generated"]
