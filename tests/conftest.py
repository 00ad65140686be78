"""Shared test set-up: import path, markers, and inputs the tests build themselves.

Nothing here reads the real data except ``shared_data``, which skips when the
mirror beside the project is absent.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# No test reads with a corner finder it did not train itself (a trained default one may lie in models/ on a
# developer's machine, never in CI's fresh clone): the default path points where none is.
os.environ["PLATEOCR_CORNER_MODEL"] = str(Path(__file__).resolve().parent / "no-corner-finder" / "plate_corners.h5")

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

import config  # noqa: E402  (needs the path above)
from config import CLASSES, PlateTrainConfig, RecognizeConfig, TrainConfig  # noqa: E402
from plateocr.plates import Box  # noqa: E402

# The rendered plate's geometry (a Spanish plate is 520 x 110 mm; one pixel per millimetre).
PLATE_HEIGHT = 110
PLATE_WIDTH = 520
BAND_WIDTH = 44  # the blue EU band on the left
CHAR_HEIGHT = 77  # 70% of the plate height
CHAR_MAX_WIDTH = 46  # plate fonts are narrow; wider glyphs are squeezed to this
CHAR_STEP = 56  # distance between neighbouring character slots
DIGIT_LETTER_GAP = 22  # extra space between the four digits and the three letters
FIRST_SLOT_X = 62  # left edge of the first character slot
BLUE_BGR = (165, 70, 10)

FONTS = (cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_DUPLEX)

RenderedPlate = tuple[np.ndarray, list[float]]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: trains a model or reads the real data (minutes, not seconds)")
    # Keras 3 on NumPy 2 warns on every batch; it is not ours to fix and drowns real warnings.
    config.addinivalue_line("filterwarnings", "ignore:__array__ implementation doesn't accept a copy keyword")


def render_glyph(char: str, font: int = cv2.FONT_HERSHEY_SIMPLEX, thickness: int = 6) -> np.ndarray:
    """A tight uint8 mask (255 = ink) of one character drawn with ``cv2.putText``."""
    canvas = np.zeros((200, 200), np.uint8)
    cv2.putText(canvas, char, (30, 150), font, 4.0, 255, thickness, cv2.LINE_AA)
    ys, xs = np.nonzero(canvas > 127)
    return canvas[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]


def paint(image: np.ndarray, mask: np.ndarray, x: int, y: int, colour: tuple[int, ...] | int) -> None:
    """Blend ``colour`` into ``image`` through ``mask`` (anti-aliased) with its top-left corner at (x, y)."""
    h, w = mask.shape
    region = image[y : y + h, x : x + w].astype(np.float32)
    alpha = (mask.astype(np.float32) / 255.0)[..., None] if image.ndim == 3 else mask.astype(np.float32) / 255.0
    target = np.array(colour, np.float32)
    image[y : y + h, x : x + w] = np.round(region * (1 - alpha) + target * alpha).astype(np.uint8)


def draw_plate(text: str, font: int = cv2.FONT_HERSHEY_SIMPLEX, thickness: int = 6) -> RenderedPlate:
    """A clean Spanish-style plate: white, thin black border, blue band with a white E, seven characters.

    Returns the BGR image and the x-centre of each drawn character, left to right.
    """
    plate = np.full((PLATE_HEIGHT, PLATE_WIDTH, 3), 255, np.uint8)
    cv2.rectangle(plate, (0, 0), (PLATE_WIDTH - 1, PLATE_HEIGHT - 1), (0, 0, 0), 2)
    cv2.rectangle(plate, (3, 3), (BAND_WIDTH, PLATE_HEIGHT - 4), BLUE_BGR, -1)
    e = cv2.resize(render_glyph("E", font, 3), (18, 26), interpolation=cv2.INTER_AREA)
    paint(plate, e, 3 + (BAND_WIDTH - 3 - 18) // 2, PLATE_HEIGHT - 38, (255, 255, 255))
    centres: list[float] = []
    y0 = (PLATE_HEIGHT - CHAR_HEIGHT) // 2
    for i, char in enumerate(text):
        glyph = render_glyph(char, font, thickness)
        gh, gw = glyph.shape
        width = min(CHAR_MAX_WIDTH, max(1, round(gw * CHAR_HEIGHT / gh)))
        glyph = cv2.resize(glyph, (width, CHAR_HEIGHT), interpolation=cv2.INTER_AREA)
        slot_x = FIRST_SLOT_X + i * CHAR_STEP + (DIGIT_LETTER_GAP if i >= 4 else 0)
        x0 = slot_x + (CHAR_MAX_WIDTH - width) // 2
        paint(plate, glyph, x0, y0, (0, 0, 0))
        centres.append(x0 + width / 2)
    return plate, centres


def turned_photo(
    plate: np.ndarray, angle: float, size: tuple[int, int] = (420, 560), grey: int = 70
) -> tuple[np.ndarray, Box]:
    """``plate`` turned by ``angle`` degrees (counter-clockwise) onto the middle of a ``grey`` photo of
    ``size`` (height, width), and its bounds there."""
    h, w = plate.shape[:2]
    height, width = size
    photo = np.full((height, width, 3), grey, np.uint8)
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    matrix[:, 2] += (width / 2 - w / 2, height / 2 - h / 2)
    cv2.warpAffine(plate, matrix, (width, height), dst=photo, borderMode=cv2.BORDER_TRANSPARENT)
    corners = cv2.transform(np.float32([[[0, 0], [w, 0], [w, h], [0, h]]]), matrix)[0]
    (x0, y0), (x1, y1) = corners.min(axis=0), corners.max(axis=0)
    return photo, Box(round(x0), round(y0), round(x1 - x0), round(y1 - y0))


def character_image(char: str, rng: np.random.Generator, size: int = 100) -> np.ndarray:
    """A Chars74K-like colour crop of one character: random font, shift, colours and polarity."""
    font = FONTS[int(rng.integers(len(FONTS)))]
    glyph = render_glyph(char, font, int(rng.integers(5, 9)))
    gh, gw = glyph.shape
    height = int(rng.integers(60, 76))
    width = max(4, min(80, round(gw * height / gh)))
    glyph = cv2.resize(glyph, (width, height), interpolation=cv2.INTER_AREA)
    dark, light = rng.integers(0, 90, 3), rng.integers(170, 256, 3)
    ink, paper = (dark, light) if rng.random() < 0.5 else (light, dark)
    image = np.empty((size, size, 3), np.uint8)
    image[:] = paper
    x = (size - width) // 2 + int(rng.integers(-5, 6))
    y = (size - height) // 2 + int(rng.integers(-5, 6))
    paint(image, glyph, min(max(x, 0), size - width), min(max(y, 0), size - height), tuple(int(v) for v in ink))
    return image


def yolo_line(cls: int, x: float, y: float, w: float, h: float, image_width: int, image_height: int) -> str:
    """A YOLO label line for the pixel box (top-left ``x, y``, size ``w, h``) of an image."""
    cx, cy = (x + w / 2) / image_width, (y + h / 2) / image_height
    return f"{cls} {cx:.6f} {cy:.6f} {w / image_width:.6f} {h / image_height:.6f}\n"


def write_tiny_chars74k(data_dir: Path, per_class: int = 6, seed: int = 0) -> Path:
    """A fake ``chars74k/English/Img/GoodImg/Bmp/SampleNNN/*.png`` tree; returns ``data_dir``."""
    rng = np.random.default_rng(seed)
    bmp = Path(data_dir) / "chars74k" / "English" / "Img" / "GoodImg" / "Bmp"
    for index, char in enumerate(CLASSES):
        folder = bmp / f"Sample{index + 1:03d}"
        folder.mkdir(parents=True)
        for k in range(per_class):
            cv2.imwrite(str(folder / f"img{index + 1:03d}-{k + 1:05d}.png"), character_image(char, rng))
    return Path(data_dir)


@pytest.fixture(scope="session")
def rendered_plate() -> Callable[..., RenderedPlate]:
    """Factory: ``rendered_plate("1234BCD")`` -> (BGR plate image, x-centres of the 7 characters)."""
    return draw_plate


@pytest.fixture(scope="session")
def glyph() -> Callable[..., np.ndarray]:
    """Factory: ``glyph("A")`` -> tight uint8 ink mask of one character."""
    return render_glyph


@pytest.fixture
def tiny_chars74k(tmp_path: Path) -> Path:
    """A data folder holding a fake Chars74K GoodImg set: 6 crops of each of the 36 classes."""
    return write_tiny_chars74k(tmp_path / "data")


@pytest.fixture(scope="session")
def tiny_chars74k_shared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same fake set, written once per session for module-scoped (training) fixtures. Do not modify."""
    return write_tiny_chars74k(tmp_path_factory.mktemp("tiny") / "data")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real data mirror beside the project (``../shared/data``); skips when it is absent."""
    path = REPO_ROOT.parent / "shared" / "data"
    if not (path / "chars74k").is_dir() or not (path / "test6Training").is_dir():
        pytest.skip(f"{path}: real data not available")
    return path


@pytest.fixture(autouse=True)
def _restore_root_logger() -> Iterator[None]:
    """The CLIs call ``logging.basicConfig(force=True)``; undo it so later tests do not log to a closed stream."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    for handler in root.handlers[:]:
        if handler not in handlers:
            root.removeHandler(handler)
    for handler in handlers:
        if handler not in root.handlers:
            root.addHandler(handler)
    root.setLevel(level)


@pytest.fixture(scope="session")
def tiny_model(tiny_chars74k_shared: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 1-epoch model on the fake Chars74K plus a few synthetic plates: it reads badly, but it reads."""
    from plateocr.train import train

    out = tmp_path_factory.mktemp("model") / "tiny.h5"
    cfg = TrainConfig(
        data_dir=tiny_chars74k_shared, out=out, epochs=1, batch_size=32, augment_copies=0, seed=1, synthetic_plates=20
    )
    train(cfg)
    return out


@pytest.fixture(scope="session")
def tiny_plate_model(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A whole-plate reader trained for a few steps on generated plates, calibrated with ``tiny_model``."""
    from plateocr.platetrain import train_plate_reader

    out = tmp_path_factory.mktemp("plate") / "plate_reader.h5"
    cfg = PlateTrainConfig(
        out=out, steps=12, batch_size=16, val_samples=32, calibration_samples=24, chars_model=tiny_model,
        chars74k_share=0.0, seed=5,
    )
    train_plate_reader(cfg)
    return out


@pytest.fixture(autouse=True)
def _default_plate_model(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests that read with ``tiny_model`` get the tiny whole-plate reader as the default one too (in child processes too)."""
    if "tiny_model" in request.fixturenames:
        plate_model = request.getfixturevalue("tiny_plate_model")
        monkeypatch.setattr(config, "PLATE_MODEL_PATH", plate_model)
        monkeypatch.setenv("PLATEOCR_PLATE_MODEL", str(plate_model))  # for the CLIs run as child processes


# The Chars74K port alone, answering whatever it reads: what the tests of the plumbing (inputs, outputs,
# errors) read with, since the tiny models' arbitrated answers fall below the default threshold.
PORT_FLAGS = ("--reader", "chars", "--min-confidence", "0")
PORT_CONFIG = RecognizeConfig(reader="chars", min_confidence=0.0)


API_KEY = "test-key-0123"


@pytest.fixture(scope="session")
def scene_photos(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Three generated car photos (JPEG, 416 px, one plate each, named by their plate)."""
    from plateocr.synth import make_scene

    folder = tmp_path_factory.mktemp("scenes")
    rng = np.random.default_rng(12)
    paths = []
    for width in (150.0, 180.0, 130.0):
        scene = make_scene(rng, plate_width=width, strength=0.3)
        path = folder / f"{scene.text}.jpg"
        assert cv2.imwrite(str(path), scene.image, [cv2.IMWRITE_JPEG_QUALITY, 92])
        paths.append(path)
    return paths


@pytest.fixture(scope="session")
def plate_service(
    tiny_model: Path, tiny_plate_model: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[object]:
    """``serve_plates.py`` on the tiny model, on a free loopback port, with an API key and small limits.

    Stopped (Ctrl-C) at the end of the session; it must exit 130 with no traceback in its log.
    """
    from plateocr.devtools import start_service

    log_path = tmp_path_factory.mktemp("service") / "serve.log"
    flags = (
        "--plate-model", str(tiny_plate_model), "--corner-model", str(log_path.parent / "no_corners.h5"),
        "--max-bytes", "2000000", "--max-pixels", "2000000", "--queue", "4",
    )
    service = start_service(tiny_model, *flags, log_path=log_path, env={"PLATEOCR_API_KEY": API_KEY})
    yield service
    code = service.stop()
    assert code == 130, service.log()
    assert "Traceback" not in service.log()
