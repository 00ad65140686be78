"""Plate crop -> the plate's four corners, found by a small learned model, so the plate can be read square-on.

The whole-plate reader reads a plate best level, square-on and filling its view. Levelling
(``plateocr.level``) undoes the turn but not the perspective; the bright-quadrilateral search
(``plateocr.rectify``) finds the corners only where the plate stands out from everything around
it. Given the plate's true corners (the generator's), warping them square-on reads far more of the
generated tilted and two-row plates than every view the reader had (README: measured), so the
corners are learned: a small convolutional model reads the same 64x128 input as the whole-plate
reader (``plateocr.platemodel.plate_input``) and regresses the corners (top-left, top-right,
bottom-right, bottom-left) as shares of the crop's width and height, trained on plates generated on
the fly with their corners known (``plateocr.plategen``: every format, both style families, tilts
up to 30 degrees, perspective, loose, tight, off-centre and clipped crops).

At reading time each box's crop gives four corners; the plate warped square-on from the photo
(``plateocr.rectify.warp_square_on``) is one more view the whole-plate reader reads and fuses
(``PlateReader.read_views``). Its sidecar (``.json``) and ONNX export sit beside the ``.h5``.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

from config import CornerTrainConfig, PlateModelConfig, to_jsonable
from plateocr.errors import SetupError
from plateocr.onnxrt import OnnxModel, export_beside, onnx_path, sidecar_path
from plateocr.platemodel import plate_inputs
from plateocr.results import atomic_path, write_json_atomic

log = logging.getLogger(__name__)

KIND = "corner_finder"
# The corner finder reads the whole-plate reader's input (the same function, the same 64x128 stretch).
CORNER_INPUT = PlateModelConfig()
# Crops with a plate to find: every plate format of the generator, none of its plate-less crops.
CORNER_KINDS = {"spanish": 0.62, "spanish_old": 0.07, "foreign": 0.19}
# Optimiser steps between two validations (a Keras "epoch").
STEPS_PER_EPOCH = 500
# A found plate must be a plausible quadrilateral: convex, at least this tall in pixels, and its width
# within this many of its heights (a two-row square near 1.2, a long plate near 5).
MIN_PLATE_HEIGHT = 6.0
ASPECT = (0.8, 8.0)


def corner_sample(rng: np.random.Generator, two_row_share: float = CornerTrainConfig.two_row_share) -> tuple[np.ndarray, np.ndarray]:
    """One generated plate crop (BGR uint8) and its plate's corners in the crop's pixels, (4, 2) TL TR BR BL."""
    from plateocr.plategen.sample import GenConfig, sample_plate

    sample = sample_plate(rng, config=GenConfig(kind_weights=CORNER_KINDS, two_row_share=two_row_share))
    return sample.image, sample.corners


def corner_targets(corners: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Corners in pixels -> (8,) shares of the crop's width and height (x, y of TL, TR, BR, BL)."""
    h, w = shape[:2]
    return (np.asarray(corners, np.float32) / np.array([w, h], np.float32)).reshape(-1)


def make_corner_batch(
    rng: np.random.Generator, size: int, two_row_share: float = CornerTrainConfig.two_row_share
) -> tuple[np.ndarray, np.ndarray]:
    """``size`` fresh samples as model inputs and corner targets."""
    crops, targets = [], []
    for _ in range(size):
        crop, corners = corner_sample(rng, two_row_share)
        crops.append(crop)
        targets.append(corner_targets(corners, crop.shape))
    return plate_inputs(crops, CORNER_INPUT), np.stack(targets)


def build_corner_model() -> object:
    """Six 3x3 convolutions (16 -> 64 channels, three poolings) over the 64x128 input, then two dense layers
    regressing the eight corner coordinates (about 0.3 M parameters)."""
    import keras
    from keras import layers

    from plateocr.platetrain import conv_bn_relu as conv

    inputs = keras.Input((CORNER_INPUT.height, CORNER_INPUT.width, CORNER_INPUT.channels), name="plate")
    x = conv(inputs, 16, "conv1", strides=2)
    x = conv(x, 24, "conv2")
    x = layers.MaxPooling2D(name="pool2")(x)
    x = conv(x, 32, "conv3")
    x = conv(x, 32, "conv4")
    x = layers.MaxPooling2D(name="pool4")(x)
    x = conv(x, 64, "conv5")
    x = conv(x, 64, "conv6")
    x = layers.MaxPooling2D(name="pool6")(x)
    x = layers.Dense(128, activation="relu", name="hidden")(layers.Flatten(name="flatten")(x))
    outputs = layers.Dense(8, name="corners")(x)
    return keras.Model(inputs, outputs, name="corner_finder")


def corner_error(predicted: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Each sample's largest corner error, in shares of the crop's size (the worse of x and y)."""
    return np.abs(np.asarray(predicted) - np.asarray(targets)).max(axis=1)


@dataclass
class CornerTrainResult:
    """What a corner finder's training run produced and measured."""

    model_path: Path
    sidecar_path: Path
    val_mean_error: float
    val_within: float
    steps: int
    seconds: float


# A validation sample counts as found where no corner is off by more than this share of the crop.
WITHIN = 0.05


def train_corner_finder(cfg: CornerTrainConfig) -> CornerTrainResult:
    """Train the corner finder on generated plates and save ``cfg.out`` with its sidecar and ONNX export."""
    cfg.validate()
    from plateocr.platetrain import fresh_batches
    from plateocr.train import seed_everything

    seed_everything(cfg.seed)
    import keras

    model = build_corner_model()
    cv2.setNumThreads(1)
    started = time.perf_counter()
    x_val, y_val = make_corner_batch(np.random.default_rng([cfg.seed, 1 << 20]), cfg.val_samples, cfg.two_row_share)
    steps_per_epoch = min(STEPS_PER_EPOCH, cfg.steps)
    epochs = max(1, round(cfg.steps / steps_per_epoch))
    schedule = keras.optimizers.schedules.CosineDecay(
        cfg.learning_rate, decay_steps=epochs * steps_per_epoch, alpha=0.05,
    )
    model.compile(optimizer=keras.optimizers.Adam(schedule, clipnorm=5.0), loss=keras.losses.Huber(delta=0.05))
    log.info("corner finder: %d epochs of %d steps, batch %d", epochs, steps_per_epoch, cfg.batch_size)
    fit = model.fit(
        fresh_batches(lambda rng, step: make_corner_batch(rng, cfg.batch_size, cfg.two_row_share), cfg.seed, steps_per_epoch),
        epochs=epochs,
        validation_data=(x_val, y_val),
        shuffle=False,
        verbose=2 if log.isEnabledFor(logging.INFO) else 0,
    )
    seconds = time.perf_counter() - started
    errors = corner_error(model.predict(x_val, batch_size=256, verbose=0), y_val)
    with atomic_path(cfg.out) as tmp:
        model.save(tmp)
    onnx = export_beside(model, Path(cfg.out), x_val[:128])
    steps = len(fit.history.get("loss", [])) * steps_per_epoch
    meta = {
        "kind": KIND,
        "input": {"height": CORNER_INPUT.height, "width": CORNER_INPUT.width, "contrast": CORNER_INPUT.contrast},
        "seed": cfg.seed,
        "steps": steps,
        "val_mean_error": float(errors.mean()),
        "val_within": float(np.mean(errors <= WITHIN)),
        "within": WITHIN,
        "loss": [float(v) for v in fit.history.get("loss", [])],
        "val_loss": [float(v) for v in fit.history.get("val_loss", [])],
        "train_seconds": round(seconds, 1),
        "config": to_jsonable(replace(cfg, out=Path(cfg.out).name)),
        "onnx": onnx,
    }
    sidecar = sidecar_path(cfg.out)
    write_json_atomic(sidecar, meta)
    log.info(
        "corner finder: validation, each plate's largest corner error %.3f on average, %.1f %% within %.2f",
        errors.mean(), 100 * np.mean(errors <= WITHIN), WITHIN,
    )
    return CornerTrainResult(Path(cfg.out), sidecar, float(errors.mean()), float(np.mean(errors <= WITHIN)), steps, seconds)


def plausible_quad(quad: np.ndarray) -> bool:
    """Whether four corners (TL, TR, BR, BL) make a convex plate-shaped quadrilateral worth warping."""
    quad = np.asarray(quad, np.float32)
    if not np.all(np.isfinite(quad)) or not cv2.isContourConvex(quad.reshape(-1, 1, 2)):
        return False
    tl, tr, br, bl = quad
    width = (np.linalg.norm(tr - tl) + np.linalg.norm(br - bl)) / 2
    height = (np.linalg.norm(bl - tl) + np.linalg.norm(br - tr)) / 2
    return bool(height >= MIN_PLATE_HEIGHT and ASPECT[0] <= width / height <= ASPECT[1])


class CornerFinder:
    """Plate crops in, the plate's corners in each crop's pixels out, all crops in one model call."""

    def __init__(self, model_path: Path, threads: int | None = None) -> None:
        self.model_path = Path(model_path)
        exported, sidecar = onnx_path(self.model_path), sidecar_path(self.model_path)
        if not exported.is_file() or not sidecar.is_file():
            raise SetupError(
                f"{self.model_path}: no corner finder found (its .onnx and .json); train one with "
                f"`python train_corners.py --out {self.model_path}` (or `make model`)"
            )
        try:
            meta = json.loads(sidecar.read_text(encoding="utf-8"))
            ok = isinstance(meta, dict) and meta.get("kind") == KIND
        except json.JSONDecodeError:
            ok = False
        if not ok:
            raise SetupError(f"{sidecar}: not the sidecar of a corner finder")
        self.model = OnnxModel(exported, threads)
        if self.model.input_shape[1:] != (CORNER_INPUT.height, CORNER_INPUT.width, CORNER_INPUT.channels) or self.model.output_shape[1:] != (8,):
            raise SetupError(f"{exported}: model shapes {self.model.input_shape} -> {self.model.output_shape} are not a corner finder's")

    def corners(self, crops: list[np.ndarray]) -> np.ndarray:
        """``(n, 4, 2)`` corners (TL, TR, BR, BL) of the plate in each crop, in that crop's pixels."""
        if not crops:
            return np.zeros((0, 4, 2), np.float32)
        shares = self.model.predict(plate_inputs(crops, CORNER_INPUT)).reshape(-1, 4, 2)
        sizes = np.array([[c.shape[1], c.shape[0]] for c in crops], np.float32)[:, None, :]
        return shares * sizes
