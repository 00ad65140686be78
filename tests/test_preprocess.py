"""Character crop -> model input, the one path shared by training and recognition; config validation."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest

import plateocr.charreader
import plateocr.train
from config import PreprocessConfig, RecognizeConfig, TrainConfig, to_jsonable
from plateocr.dataset import CharacterSet
from plateocr.preprocess import preprocess_batch, preprocess_character

CFG = PreprocessConfig()


def crop_of(mask: np.ndarray, ink: int = 20, paper: int = 235, size: tuple[int, int] = (100, 80)) -> np.ndarray:
    """A grey crop with the glyph ``mask`` (255 = ink) centred on plain paper."""
    h, w = size
    image = np.full((h, w), paper, np.uint8)
    gh, gw = mask.shape
    y, x = (h - gh) // 2, (w - gw) // 2
    alpha = mask.astype(np.float32) / 255.0
    region = image[y : y + gh, x : x + gw].astype(np.float32)
    image[y : y + gh, x : x + gw] = np.round(region * (1 - alpha) + ink * alpha).astype(np.uint8)
    return image


@pytest.fixture(scope="module")
def letter(glyph) -> np.ndarray:
    """A 'K' about 70 px tall (an asymmetric glyph, so flips and shifts would show)."""
    return cv2.resize(glyph("K"), (48, 70), interpolation=cv2.INTER_AREA)


def ink_extent(x: np.ndarray, axis: int) -> int:
    """Columns (axis=0) or rows (axis=1) of the input that hold any ink."""
    return int(np.count_nonzero((x[..., 0] > 0.5).any(axis=axis)))


def test_output_shape_dtype_and_range(letter):
    gray = crop_of(letter)
    bgr = cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR)
    bgra = cv2.cvtColor(gray, cv2.COLOR_GRAY2BGRA)
    for image in (gray, bgr, bgra):
        x = preprocess_character(image, CFG)
        assert x.shape == (CFG.size, CFG.size, 1)
        assert x.dtype == np.float32
        assert x.min() >= 0.0 and x.max() <= 1.0
        assert x.max() > 0.99  # the strokes are there, at full strength
        assert x[0].max() == 0 and x[-1].max() == 0 and x[:, 0].max() == 0 and x[:, -1].max() == 0  # 1 px of background
    np.testing.assert_array_equal(preprocess_character(bgr, CFG), preprocess_character(gray, CFG))


def test_size_follows_the_config(letter):
    assert preprocess_character(crop_of(letter), PreprocessConfig(size=24)).shape == (24, 24, 1)


def test_batch_stacks_and_empty_batch_has_the_right_shape(letter, glyph):
    crops = [crop_of(letter), crop_of(cv2.resize(glyph("7"), (40, 66))), crop_of(letter, ink=230, paper=30)]
    batch = preprocess_batch(crops, CFG)
    assert batch.shape == (3, CFG.size, CFG.size, 1) and batch.dtype == np.float32
    for crop, x in zip(crops, batch):
        np.testing.assert_array_equal(x, preprocess_character(crop, CFG))
    empty = preprocess_batch([], CFG)
    assert empty.shape == (0, CFG.size, CFG.size, 1) and empty.dtype == np.float32


def test_blank_crop_gives_an_empty_input():
    x = preprocess_character(np.full((40, 30), 128, np.uint8), CFG)
    assert x.shape == (CFG.size, CFG.size, 1)
    assert x.max() == 0


def test_strokes_are_the_foreground_whatever_the_polarity(letter):
    dark_on_light = preprocess_character(crop_of(letter, ink=15, paper=240), CFG)
    light_on_dark = preprocess_character(crop_of(letter, ink=240, paper=15), CFG)
    inverted = preprocess_character(255 - crop_of(letter, ink=15, paper=240), CFG)
    # Strokes (a minority of the pixels) are always the bright part of the input.
    assert dark_on_light.mean() < 0.5
    assert np.abs(dark_on_light - light_on_dark).mean() < 0.02
    assert np.abs(dark_on_light - inverted).mean() < 0.02


def test_coloured_crops_of_both_polarities_agree(letter):
    base = crop_of(letter)
    alpha = (base < 128)[..., None]
    yellow, navy = np.array([40, 220, 240], np.uint8), np.array([90, 30, 20], np.uint8)
    navy_on_yellow = np.where(alpha, navy, yellow).astype(np.uint8)
    yellow_on_navy = np.where(alpha, yellow, navy).astype(np.uint8)
    a, b = preprocess_character(navy_on_yellow, CFG), preprocess_character(yellow_on_navy, CFG)
    assert np.abs(a - b).mean() < 0.02


def test_neighbour_fragment_touching_the_border_is_dropped(letter):
    alone = crop_of(letter)
    with_neighbour = alone.copy()
    with_neighbour[10:85, -9:] = 20  # a big piece of the next character's stroke, cut by the crop's edge
    with_neighbour[20:60, :5] = 20  # and one on the left
    a = preprocess_character(alone, CFG)
    b = preprocess_character(with_neighbour, CFG)
    assert np.abs(a - b).mean() < 0.01


def test_both_pieces_of_a_broken_stroke_are_kept():
    # A character broken in two by a worn stroke: neither piece is a neighbour.
    mask = np.zeros((70, 20), np.uint8)
    mask[0:26, 4:16] = 255
    mask[32:70, 4:16] = 255
    x = preprocess_character(crop_of(mask), CFG)
    rows = (x[..., 0] > 0.5).any(axis=1)
    # Ink, then the gap, then ink again: the smaller piece was not dropped.
    first, last = np.flatnonzero(rows)[[0, -1]]
    assert not rows[first : last + 1].all()


def test_pad_keeps_a_narrow_character_narrow_and_stretch_fills(glyph):
    # The Hershey '1' has a wide base serif; an 'I' is the narrow glyph a plate's '1' looks like.
    narrow = crop_of(cv2.resize(glyph("I"), (9, 70), interpolation=cv2.INTER_AREA))
    padded = preprocess_character(narrow, PreprocessConfig(fit="pad"))
    stretched = preprocess_character(narrow, PreprocessConfig(fit="stretch"))
    kept = preprocess_character(narrow, PreprocessConfig(fit="stretch", min_aspect=0.3))
    size = CFG.size
    assert ink_extent(padded, 1) >= size - 4  # full height
    assert ink_extent(padded, 0) <= size // 4  # still narrow
    assert ink_extent(stretched, 0) >= size - 4  # stretched to the full width
    assert ink_extent(stretched, 1) >= size - 4
    np.testing.assert_array_equal(kept, padded)  # narrower than min_aspect: padded even in stretch mode


def test_pad_centres_the_character(letter):
    x = preprocess_character(crop_of(letter, size=(100, 100)), CFG)[..., 0]
    cols = np.flatnonzero((x > 0.5).any(axis=0))
    left, right = cols[0], CFG.size - 1 - cols[-1]
    assert abs(left - right) <= 1


# --------------------------------------------------------------------------- one shared path


def test_training_and_recognition_use_the_same_function_object():
    assert plateocr.train.preprocess_batch is plateocr.charreader.preprocess_batch
    assert plateocr.train.preprocess_batch is preprocess_batch


def test_training_arrays_equal_the_recognition_inputs_for_the_same_crops(letter, glyph):
    crops = [crop_of(letter), crop_of(cv2.resize(glyph("3"), (44, 70)), ink=220, paper=40)]
    cfg = TrainConfig(augment_copies=0, preprocess=PreprocessConfig(fit="stretch", min_aspect=0.2))
    chars = CharacterSet(crops, np.array([20, 3]), [])
    x_train, y_train = plateocr.train.build_training_arrays(
        chars, np.arange(2), cfg, np.random.default_rng(0), copies=0
    )
    # The recogniser rebuilds the preprocessing config from the model's sidecar JSON.
    from_sidecar = PreprocessConfig(**to_jsonable(cfg.preprocess))
    assert from_sidecar == cfg.preprocess
    x_recognise = plateocr.charreader.preprocess_batch(crops, from_sidecar)
    np.testing.assert_array_equal(x_train, x_recognise)
    np.testing.assert_array_equal(plateocr.train.preprocess_batch(crops, cfg.preprocess), x_recognise)
    assert y_train.tolist() == [20, 3]


def test_augmented_training_copies_come_after_the_originals(letter):
    crops = [crop_of(letter)]
    cfg = TrainConfig(augment_copies=2)
    chars = CharacterSet(crops, np.array([20]), [])
    x, y = plateocr.train.build_training_arrays(chars, np.arange(1), cfg, np.random.default_rng(0), copies=2)
    assert x.shape == (3, CFG.size, CFG.size, 1) and y.tolist() == [20, 20, 20]
    np.testing.assert_array_equal(x[0], preprocess_character(crops[0], cfg.preprocess))


# --------------------------------------------------------------------------- config validation


def test_default_configs_are_valid():
    PreprocessConfig().validate()
    TrainConfig().validate()
    RecognizeConfig().validate()


BAD_VALUES = [
    (PreprocessConfig, {"size": 4}),
    (PreprocessConfig, {"size": 512}),
    (PreprocessConfig, {"fit": "crop"}),
    (PreprocessConfig, {"min_aspect": -0.1}),
    (PreprocessConfig, {"min_aspect": 1.5}),
    (TrainConfig, {"epochs": 0}),
    (TrainConfig, {"batch_size": 0}),
    (TrainConfig, {"val_fraction": 0.0}),
    (TrainConfig, {"val_fraction": 0.5}),
    (TrainConfig, {"augment_copies": -1}),
    (TrainConfig, {"patience": 0}),
    (TrainConfig, {"max_seconds": -1}),
    (TrainConfig, {"learning_rate": 0.0}),
    (TrainConfig, {"preprocess": PreprocessConfig(fit="crop")}),
    (RecognizeConfig, {"plate_margin": -0.01}),
    (RecognizeConfig, {"plate_margin": 0.6}),
    (RecognizeConfig, {"plate_height": 16}),
    (RecognizeConfig, {"plate_height": 1000}),
    (RecognizeConfig, {"max_candidates": 0}),
]


@pytest.mark.parametrize(
    ("config_class", "values"),
    BAD_VALUES,
    ids=[f"{cls.__name__}-{next(iter(kw))}={next(iter(kw.values()))!r}" for cls, kw in BAD_VALUES],
)
def test_bad_config_values_are_rejected(config_class, values):
    config_class().validate()  # the defaults pass ...
    with pytest.raises(ValueError):
        config_class(**values).validate()  # ... one bad value does not


def test_configs_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        PreprocessConfig().size = 64  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        TrainConfig().epochs = 1  # type: ignore[misc]
