"""Training the corner finder (``plateocr.corners``) on plates generated on the fly with their corners known.

Each batch is drawn from its own random stream, seeded by (seed, epoch, batch index), as the whole-plate
reader's are (``platetrain.fresh_batches``): the same seed gives the same model on the same machine.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

from config import CornerTrainConfig, to_jsonable
from plateocr.corners import CORNER_INPUT, KIND
from plateocr.onnxrt import export_beside, sidecar_path
from plateocr.platemodel import plate_inputs
from plateocr.platetrain import conv_bn_relu, fresh_batches
from plateocr.results import atomic_path, write_json_atomic
from plateocr.train import seed_everything

log = logging.getLogger(__name__)

# Crops with a plate to find: every plate format of the generator, none of its plate-less crops.
CORNER_KINDS = {"spanish": 0.62, "spanish_old": 0.07, "foreign": 0.19}
# Optimiser steps between two validations (a Keras "epoch").
STEPS_PER_EPOCH = 500


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

    conv = conv_bn_relu
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
