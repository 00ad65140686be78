"""Reliability corpus: bad inputs generated here (nothing binary is committed).

For every case: no traceback, a clear message naming the file, every other image's result
complete, and the exit code the README documents (0 all read, 1 some failed, 2 setup, 130 Ctrl-C).

Most image-level cases share one end-to-end run of ``recognize_plates.py`` in a child process
(module fixture ``corpus``); each case is then checked by its own parametrized test.
"""

from __future__ import annotations

import io
import json
import os
import re
import signal
import struct
import subprocess
import sys
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pillow_heif
import pytest
from conftest import PORT_FLAGS, REPO_ROOT, draw_plate
from PIL import Image
from test_recognize_cli import GOOD, car_scene, results_lines, yolo_line

import recognize_plates
from plateocr.plates import Box

PHOTO_SIZE = (640, 480)
PLATE_AT = (60, 300)
EXIF_ORIENTATION = 0x0112
# Stored pixels for an EXIF orientation, so that the displayed image is the upright photo.
ROTATION_FOR_ORIENTATION = {3: 2, 6: 1, 8: -1}  # np.rot90's k


@dataclass(frozen=True)
class Photo:
    """The one good photo every variant is made from: decoded pixels, JPEG bytes and label text."""

    pixels: np.ndarray
    jpeg: bytes
    label: str
    plate: Box


def make_photo() -> Photo:
    plate_bgr, _ = draw_plate(GOOD)
    image, car, plate = car_scene(plate_bgr, *PHOTO_SIZE, at=PLATE_AT)
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 95])
    assert ok
    pixels = cv2.imdecode(data, cv2.IMREAD_COLOR)
    label = yolo_line(1, car, *PHOTO_SIZE) + yolo_line(0, plate, *PHOTO_SIZE)
    return Photo(pixels, data.tobytes(), label, plate)


def png_header(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width`` x ``height`` pixels (a decompression bomb's calling card)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def save_pil(path: Path, array: np.ndarray, **params: object) -> None:
    Image.fromarray(array).save(path, **params)


def rgb(photo: Photo) -> np.ndarray:
    return cv2.cvtColor(photo.pixels, cv2.COLOR_BGR2RGB)


def exif_rotated(orientation: int) -> Callable[[Path, Photo], None]:
    def write(path: Path, photo: Photo) -> None:
        stored = np.ascontiguousarray(np.rot90(rgb(photo), ROTATION_FOR_ORIENTATION[orientation]))
        exif = Image.Exif()
        exif[EXIF_ORIENTATION] = orientation
        save_pil(path, stored, exif=exif.tobytes(), quality=95)  # bytes: pillow-heif drops an Exif object

    return write


pillow_heif.register_heif_opener()  # Pillow writes the HEIC cases through it


def heif_bytes(photo: Photo) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(rgb(photo)).save(buffer, format="HEIF", quality=95)
    return buffer.getvalue()


def corrupt_png_data(path: Path, photo: Photo) -> None:
    data = bytearray(cv2.imencode(".png", photo.pixels)[1].tobytes())
    start = data.index(b"IDAT") + 4
    data[start + 100 : start + 4000] = bytes(3900)  # zeroed compressed data: the CRC and the inflate fail
    path.write_bytes(bytes(data))


def textured(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return cv2.GaussianBlur(rng.integers(0, 256, (480, 640, 3), dtype=np.uint8), (0, 0), 4)


# What a case must end with. "same": the same reading and box as the original JPEG (the pixels are
# identical); "label": read from its label box; "any": no crash (a reading, or "no plate box found").
SAME, LABEL, ANY = "same", "label", "any"


@dataclass(frozen=True)
class Case:
    """One corpus file: how to write it, its label file (None: none), and the expected outcome."""

    file: str
    write: Callable[[Path, Photo], None]
    expect: str  # SAME, LABEL, ANY, or a regex the error must match
    label: Callable[[Photo], str | bytes] | None = lambda photo: photo.label
    warns: str = ""  # a regex stderr must match (label problems are warnings, not failures)


GARBAGE_LINES = "plate here\n0 0.5\n1 a b c d\n0 0.5 0.5 0.1 0.1 extra? fine\n\x00\x01\n"

CASES = [
    # Not images, or broken ones: failures with a message.
    Case("zero_bytes.jpg", lambda p, ph: p.write_bytes(b""), "empty file"),
    Case("truncated.jpg", lambda p, ph: p.write_bytes(ph.jpeg[: len(ph.jpeg) // 2]), "truncated or corrupt"),
    Case("header_only.jpg", lambda p, ph: p.write_bytes(ph.jpeg[:400]), "not a readable image|truncated or corrupt"),
    Case("text.jpg", lambda p, ph: p.write_text("this is not a JPEG\n"), "not a readable image"),
    Case("html.png", lambda p, ph: p.write_text("<html><body>404</body></html>"), "not a readable image"),
    Case("random_bytes.bmp", lambda p, ph: p.write_bytes(np.random.default_rng(1).bytes(5000)), "not a readable"),
    Case("gif_named.png", lambda p, ph: save_pil(p, rgb(ph), format="GIF"), LABEL),  # decoded by its content
    Case("corrupt_data.png", corrupt_png_data, "not a readable image|truncated or corrupt"),
    Case("one_pixel.png", lambda p, ph: save_pil(p, np.zeros((1, 1, 3), np.uint8)), r"too small \(1x1"),
    Case("thin_strip.png", lambda p, ph: save_pil(p, np.zeros((4, 2000, 3), np.uint8)), "too small"),
    Case("bomb_20000.png", lambda p, ph: p.write_bytes(png_header(20_000, 20_000)), "too large"),
    Case("huge_12000x8000.png", lambda p, ph: p.write_bytes(png_header(12_000, 8_000)), "too large"),
    # Every pixel format and container of the same photo: read like the original.
    Case(f"{GOOD}.jpg", lambda p, ph: p.write_bytes(ph.jpeg), SAME),
    Case("upper_suffix.JPG", lambda p, ph: p.write_bytes(ph.jpeg), SAME),
    Case("lossless.png", lambda p, ph: cv2.imwrite(str(p), ph.pixels), SAME),
    Case("alpha.png", lambda p, ph: save_pil(p, np.dstack([rgb(ph), np.full(ph.pixels.shape[:2], 255, np.uint8)])),
         SAME),  # fmt: skip
    Case("colour_16bit.png", lambda p, ph: cv2.imwrite(str(p), ph.pixels.astype(np.uint16) * 257), SAME),
    Case("photo.bmp", lambda p, ph: cv2.imwrite(str(p), ph.pixels), SAME),
    Case("photo.tiff", lambda p, ph: save_pil(p, rgb(ph)), SAME),
    Case("photo.webp", lambda p, ph: save_pil(p, rgb(ph), lossless=True), SAME),
    Case("grey.jpg", lambda p, ph: save_pil(p, cv2.cvtColor(ph.pixels, cv2.COLOR_BGR2GRAY), quality=95), LABEL),
    Case("grey_16bit.png",
         lambda p, ph: cv2.imwrite(str(p), cv2.cvtColor(ph.pixels, cv2.COLOR_BGR2GRAY).astype(np.uint16) * 257),
         LABEL),  # fmt: skip
    Case("palette.png", lambda p, ph: Image.fromarray(rgb(ph)).convert("P", palette=Image.ADAPTIVE).save(p), LABEL),
    Case("cmyk.jpg", lambda p, ph: Image.fromarray(rgb(ph)).convert("CMYK").save(p, quality=95), LABEL),
    # EXIF orientation: the label (and so the box) is in the frame people see.
    Case("exif_rotate_90.jpg", exif_rotated(6), LABEL),
    Case("exif_rotate_180.jpg", exif_rotated(3), LABEL),
    Case("exif_rotate_270.jpg", exif_rotated(8), LABEL),
    # Phone formats: HEIC (decoded by pillow-heif's libheif, its orientation applied) and AVIF.
    Case("phone.heic", lambda p, ph: p.write_bytes(heif_bytes(ph)), LABEL),
    Case("phone_rotate_90.heic", exif_rotated(6), LABEL),
    Case("phone_avif.avif", lambda p, ph: save_pil(p, rgb(ph), quality=95), LABEL),
    Case("truncated_phone.heic", lambda p, ph: p.write_bytes(heif_bytes(ph)[:3000]), "truncated or corrupt|not a readable"),
    # Nothing to read.
    Case("plate_free.png", lambda p, ph: cv2.imwrite(str(p), textured(2)), ANY, label=None),
    Case("noise.png", lambda p, ph: cv2.imwrite(str(p), np.random.default_rng(3).integers(0, 256, (300, 300, 3),
         dtype=np.uint8)), ANY, label=None),  # fmt: skip
    # Label files that are wrong in every way: a warning, then the valid lines or the localiser.
    Case("garbage_lines.jpg", lambda p, ph: p.write_bytes(ph.jpeg), SAME, label=lambda ph: GARBAGE_LINES + ph.label,
         warns=r"garbage_lines\.txt:\d+: malformed"),  # fmt: skip
    Case("only_garbage.jpg", lambda p, ph: p.write_bytes(ph.jpeg), ANY, label=lambda ph: GARBAGE_LINES,
         warns=r"only_garbage\.txt:1: malformed"),  # fmt: skip
    Case("out_of_range.jpg", lambda p, ph: p.write_bytes(ph.jpeg), ANY, label=lambda ph: "0 5.0 7.0 0.2 0.1\n",
         warns=r"out_of_range\.txt: plate box outside the image"),  # fmt: skip
    Case("negative_size.jpg", lambda p, ph: p.write_bytes(ph.jpeg), ANY, label=lambda ph: "0 0.5 0.5 -0.2 0.1\n",
         warns=r"negative_size\.txt:1: empty box"),  # fmt: skip
    Case("nan_values.jpg", lambda p, ph: p.write_bytes(ph.jpeg), ANY, label=lambda ph: "0 nan 0.5 inf 0.1\n",
         warns=r"nan_values\.txt:1: malformed"),  # fmt: skip
    Case("empty_label.jpg", lambda p, ph: p.write_bytes(ph.jpeg), ANY, label=lambda ph: "",
         warns=r"empty_label\.txt: no usable plate box"),  # fmt: skip
    Case("binary_label.jpg", lambda p, ph: p.write_bytes(ph.jpeg), ANY, label=lambda ph: b"\xff\xfe\x00garbage\x80",
         warns=r"binary_label\.txt: cannot read label file[^\n]*\n(?![\s\S]*binary_label\.txt: no usable)"),  # fmt: skip
    Case("no_label_file.jpg", lambda p, ph: p.write_bytes(ph.jpeg), ANY, label=None),
    Case("label_is_a_folder.jpg", lambda p, ph: p.write_bytes(ph.jpeg), ANY, label=None,
         warns=r"label_is_a_folder\.txt: not a file; finding the plate without it"),  # fmt: skip
    # Names: non-ASCII, undecodable bytes, a newline; and a stem that appears twice.
    Case("matrícula ñ €.jpg", lambda p, ph: p.write_bytes(ph.jpeg), SAME),
    Case("sub/" + f"{GOOD}.png", lambda p, ph: cv2.imwrite(str(p), ph.pixels), SAME, label=None),
]
# Written through bytes paths: names a str cannot hold as-is.
BYTE_NAMES = {"undecodable.jpg": b"caf\xe9.jpg", "newline.jpg": b"two\nlines.jpg"}
CASES += [Case(name, lambda p, ph: p.write_bytes(ph.jpeg), SAME) for name in BYTE_NAMES]


@dataclass
class CorpusRun:
    code: int
    stderr: str
    records: dict[str, dict]
    lines: list[tuple[str, str]]
    names: dict[str, str]  # case file -> its name in the outputs
    photo: Photo


def run_child(*argv: str, timeout: float = 300) -> subprocess.CompletedProcess:
    cmd = [sys.executable, str(REPO_ROOT / "recognize_plates.py"), *argv]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    return subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, timeout=timeout, env=env)


@pytest.fixture(scope="module")
def corpus(tiny_model: Path, tiny_plate_model: Path, tmp_path_factory: pytest.TempPathFactory) -> CorpusRun:
    """Write every case into one folder and read it in one child process."""
    root = tmp_path_factory.mktemp("corpus")
    images, labels, out = root / "images", root / "labels", root / "out"
    (images / "sub").mkdir(parents=True)
    labels.mkdir()
    (labels / "label_is_a_folder.txt").mkdir()  # the label "file" of label_is_a_folder.jpg
    photo = make_photo()
    for case in CASES:
        raw = BYTE_NAMES.get(case.file)
        path = images / case.file
        if raw is not None:
            path = Path(os.fsdecode(os.fsencode(images) + b"/" + raw))
        case.write(path, photo)
        if case.label is not None:
            text = case.label(photo)
            label = labels / f"{path.stem}.txt"
            label.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    proc = run_child(
        str(images), "--recursive", "--labels", str(labels), "--model", str(tiny_model),
        "--plate-model", str(tiny_plate_model), *PORT_FLAGS, "--output", str(out / "LicenseResults.txt"), "--json", str(out / "results.json"), "-q",
    )  # fmt: skip
    document = json.loads((out / "results.json").read_text(encoding="utf-8"))
    records = {r["name"]: r for r in document["results"]}
    names = {case.file: Path(case.file).stem for case in CASES}
    names.update({"undecodable.jpg": "caf?", "newline.jpg": "two?lines"})
    for shared in (f"{GOOD}.jpg", f"sub/{GOOD}.png", "photo.bmp", "photo.tiff", "photo.webp"):
        names[shared] = shared  # a stem used twice: the relative path tells them apart
    return CorpusRun(
        proc.returncode, proc.stderr.decode("utf-8", "replace"), records,
        results_lines(out / "LicenseResults.txt"), names, photo,
    )  # fmt: skip


def test_the_corpus_has_at_least_30_bad_inputs():
    assert len([c for c in CASES if c.file != f"{GOOD}.jpg"]) >= 30  # the original photo is the reference
    assert len(SETUP_CASES) >= 10


def test_corpus_run_exits_1_without_a_traceback_and_writes_one_line_per_image(corpus):
    assert corpus.code == 1, corpus.stderr
    assert "Traceback" not in corpus.stderr
    # Only our own messages: no warnings module output, no C library complaints.
    noise = [line for line in corpus.stderr.splitlines() if not re.match(r"(WARNING|ERROR) plateocr\.", line)]
    assert noise == []
    assert len(corpus.lines) == len(CASES) == len(corpus.records)
    assert sorted(name for name, _ in corpus.lines) == sorted(corpus.names.values())


@pytest.mark.parametrize("case", CASES, ids=[c.file for c in CASES])
def test_case(case: Case, corpus: CorpusRun):
    name = corpus.names[case.file]
    record = corpus.records[name]
    original = corpus.records[f"{GOOD}.jpg"]
    assert dict(corpus.lines)[name] == record["reading"]
    if case.warns:
        assert re.search(case.warns, corpus.stderr), corpus.stderr
    if case.expect == SAME:
        assert record["error"] is None
        assert (record["reading"], record["box"], record["box_source"]) == (
            original["reading"], original["box"], original["box_source"],
        )  # fmt: skip
        assert re.fullmatch(r"[0-9]{4}[A-Z]{3}", record["reading"])
    elif case.expect == LABEL:
        assert record["error"] is None and record["box_source"] == "label"
        # The label's box (in the displayed frame) was used: same place as in the original photo.
        np.testing.assert_allclose(list(record["box"].values()), list(original["box"].values()), atol=2)
        assert len(record["char_probs"]) in (0, 7)
    elif case.expect == ANY:
        assert record["error"] is None or "no plate box found" in record["error"]
    else:
        assert record["error"] is not None and re.search(case.expect, record["error"]), record["error"]
        assert record["reading"] == "" and record["box"] is None
        assert case.file.split("/")[-1] in corpus.stderr  # named on stderr with the cause
        assert re.search(case.expect, corpus.stderr)


def test_exif_rotation_is_applied_before_the_box_is_found(corpus):
    # Stored 480 x 640 with the label in the 640 x 480 frame: had EXIF been ignored, the box would be
    # scaled by the wrong width and height.
    box = corpus.records["exif_rotate_90"]["box"]
    assert box["x"] + box["w"] <= PHOTO_SIZE[0] and box["y"] + box["h"] <= PHOTO_SIZE[1]
    plate = corpus.photo.plate
    assert abs(box["x"] - plate.x) < 0.1 * plate.w and abs(box["y"] - plate.y) < 0.2 * plate.h


# ---------------------------------------------------------------- set-up problems: exit 2, nothing written


@pytest.fixture
def folder_with_one_photo(tmp_path: Path) -> tuple[Path, Path]:
    images, labels = tmp_path / "images", tmp_path / "labels"
    images.mkdir()
    labels.mkdir()
    photo = make_photo()
    (images / f"{GOOD}.jpg").write_bytes(photo.jpeg)
    (labels / f"{GOOD}.txt").write_text(photo.label)
    return images, labels


def wrong_class_count_model(path: Path) -> Path:
    import keras

    from plateocr.onnxrt import export_beside

    model = keras.Sequential([keras.Input((32, 32, 1)), keras.layers.Flatten(), keras.layers.Dense(10, "softmax")])
    model.save(path)
    export_beside(model, path, np.zeros((2, 32, 32, 1), np.float32))
    return path


def corrupt_model(path: Path) -> Path:
    path.write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(500))
    path.with_suffix(".onnx").write_bytes(b"\x08\x07" + bytes(500))
    return path


def model_without_onnx(path: Path) -> Path:
    """A model trained before reading went through ONNX Runtime: only the ``.h5``."""
    path.write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(500))
    return path


def blocked(tmp_path: Path) -> Path:
    """A regular file: nothing can be created below it (chmod tricks do not stop root)."""
    path = tmp_path / "a_file"
    path.write_text("not a folder")
    return path


def photos(tmp: Path) -> str:
    return str(tmp / "images")


# Each: (id, arguments built from the test's tmp_path (photos in tmp_path/images), regex for stderr).
# The tiny model and an output file are added unless the arguments name their own.
SETUP_CASES: list[tuple[str, Callable[[Path], list[str]], str]] = [
    ("missing_model", lambda t: [photos(t), "--model", str(t / "none.h5")], r"none\.h5: no model found.*train_cnn"),
    ("corrupt_model", lambda t: [photos(t), "--model", str(corrupt_model(t / "bad.h5"))], r"bad\.onnx: cannot load"),
    ("wrong_class_count", lambda t: [photos(t), "--model", str(wrong_class_count_model(t / "ten.h5"))],
     r"ten\.onnx: model predicts 10 classes, expected 36"),
    ("model_without_onnx", lambda t: [photos(t), "--model", str(model_without_onnx(t / "old.h5"))],
     r"old\.h5: no ONNX export beside it .*train_cnn\.py --export-onnx .*old\.h5"),
    ("empty_folder", lambda t: [str((t / "empty").mkdir() or t / "empty")], r"empty: no images to read"),
    ("no_images_only_text", lambda t: [str(t / "labels")], r"labels: no images to read"),
    ("missing_input", lambda t: [str(t / "gone.jpg")], r"gone\.jpg: no such file"),
    ("missing_images_folder", lambda t: ["--images", str(t / "nowhere")], r"nowhere: image folder not found"),
    ("missing_labels_folder", lambda t: [photos(t), "--labels", str(t / "nolabels")],
     r"nolabels: label folder not found"),
    ("output_below_a_file", lambda t: [photos(t), "--output", str(blocked(t) / "LR.txt")], r"cannot write .*a_file"),
    ("json_below_a_file", lambda t: [photos(t), "--json", str(blocked(t) / "r.json")], r"cannot write .*a_file"),
    ("output_is_a_folder", lambda t: [photos(t), "--output", str(t)], r"cannot write .*is a folder"),
    ("annotated_dir_is_a_file", lambda t: [photos(t), "--save-annotated", str(blocked(t))], r"cannot write .*a_file"),
    ("crops_dir_below_a_file", lambda t: [photos(t), "--save-crops", str(blocked(t) / "c")], r"cannot write .*a_file"),
]


@pytest.mark.parametrize("argv, message", [c[1:] for c in SETUP_CASES], ids=[c[0] for c in SETUP_CASES])
def test_setup_problem_exits_2_with_a_message_and_writes_nothing(
    argv, message, tiny_model, folder_with_one_photo, tmp_path, capsys
):
    out = tmp_path / "out" / "LicenseResults.txt"
    tail = argv(tmp_path)
    tail += [] if "--model" in tail else ["--model", str(tiny_model)]
    tail += [] if "--output" in tail else ["--output", str(out)]
    assert recognize_plates.main([*tail, "-q"]) == 2
    err = capsys.readouterr().err
    assert re.search(message, err, re.S), err
    assert "recognize_plates: error: " in err and "Traceback" not in err
    assert not out.exists()


def test_a_worker_that_cannot_load_the_model_is_a_setup_error(folder_with_one_photo, tmp_path, capsys):
    images, _ = folder_with_one_photo
    (images / "second.jpg").write_bytes((images / f"{GOOD}.jpg").read_bytes())
    model = wrong_class_count_model(tmp_path / "ten.h5")
    argv = [str(images), "--model", str(model), "--jobs", "2", "--output", str(tmp_path / "o"), "-q"]
    code = recognize_plates.main(argv)
    assert code == 2
    assert "model predicts 10 classes" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


# ---------------------------------------------------------------- a run stopped midway


OLD_RESULTS = "1111BBB,1111BBB\n"


def default_sigint() -> None:
    """In the child before exec: Ctrl-C's default action, even when the suite itself runs with SIGINT
    ignored (a background job of a non-interactive shell), so that Python installs KeyboardInterrupt."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start_and_stop(tiny_model: Path, tmp_path: Path, how: signal.Signals, jobs: int = 1) -> tuple[int, str, Path]:
    """Start a long run over an existing LicenseResults.txt, stop it with ``how`` once it is reading images."""
    images, labels, out = tmp_path / "images", tmp_path / "labels", tmp_path / "out"
    for folder in (images, labels, out):
        folder.mkdir()
    photo = make_photo()
    (images / "0000.jpg").write_bytes(photo.jpeg)
    for i in range(1, 150):  # enough work to be stopped in the middle
        os.link(images / "0000.jpg", images / f"{i:04d}.jpg")
    for i in range(150):
        (labels / f"{i:04d}.txt").write_text(photo.label)
    results = out / "LicenseResults.txt"
    results.write_text(OLD_RESULTS)
    (out / "results.json").write_text("{}\n")
    stderr_path = tmp_path / "stderr.txt"
    cmd = [
        sys.executable, str(REPO_ROOT / "recognize_plates.py"), str(images), "--labels", str(labels),
        "--model", str(tiny_model), "--output", str(results), "--json", str(out / "results.json"),
        "--save-crops", str(out / "crops"), "--jobs", str(jobs), "-v",
    ]  # fmt: skip
    with open(stderr_path, "wb") as err:
        proc = subprocess.Popen(
            cmd, cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=err, start_new_session=True,
            preexec_fn=default_sigint,
        )  # fmt: skip
        deadline = time.monotonic() + 120
        # The per-image debug line of plateocr.batch: the run is reading images.
        while b" -> " not in stderr_path.read_bytes() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert proc.poll() is None, "the run ended before it could be stopped"
        os.killpg(proc.pid, how)  # the whole process group, as a terminal's Ctrl-C does
        code = proc.wait(timeout=120)
    return code, stderr_path.read_text(encoding="utf-8", errors="replace"), out


def assert_old_outputs_intact(out: Path) -> None:
    assert (out / "LicenseResults.txt").read_text() == OLD_RESULTS
    assert (out / "results.json").read_text() == "{}\n"
    assert [p.name for p in out.rglob("*") if ".tmp" in p.name] == []


@pytest.mark.parametrize("jobs", [1, 2])
def test_ctrl_c_exits_130_and_writes_what_was_read_so_far(jobs, tiny_model, tmp_path):
    code, stderr, out = start_and_stop(tiny_model, tmp_path, signal.SIGINT, jobs)
    assert code == 130, stderr[-2000:]
    assert "interrupted after" in stderr and "--resume" in stderr and "Traceback" not in stderr
    names = [line.split(",")[0] for line in (out / "LicenseResults.txt").read_text().splitlines()]
    assert names == sorted(names) and len(names) < 150  # the images read, in input order
    document = json.loads((out / "results.json").read_text())
    assert document["images"] == len(names) == len(document["results"])
    assert [p.name for p in out.rglob("*") if ".tmp" in p.name] == []


def test_sigkill_leaves_the_old_results(tiny_model, tmp_path):
    code, _, out = start_and_stop(tiny_model, tmp_path, signal.SIGKILL)
    assert code == -signal.SIGKILL
    assert_old_outputs_intact(out)
