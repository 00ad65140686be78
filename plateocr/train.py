"""Training: split, augment, fit, evaluate, save the model with its sidecar."""

from __future__ import annotations

import json
import logging
import os
import random
import time
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

from config import CLASSES, PreprocessConfig, TrainConfig, to_jsonable
from plateocr.dataset import CharacterSet, load_chars74k
from plateocr.errors import SetupError
from plateocr.onnxrt import export_beside, sidecar_path
from plateocr.preprocess import preprocess_batch
from plateocr.results import atomic_path, write_json_atomic
from plateocr.tfimport import import_tensorflow_quietly

log = logging.getLogger(__name__)

# Validation crops on which the ONNX export is checked against Keras (at most this many).
EXPORT_CHECK_SAMPLES = 512


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and TensorFlow and make TensorFlow's ops deterministic."""
    import_tensorflow_quietly()
    import tensorflow as tf

    os.environ["PYTHONHASHSEED"] = str(seed)
    random.seed(seed)
    np.random.seed(seed)
    tf.keras.utils.set_random_seed(seed)
    try:
        tf.config.experimental.enable_op_determinism()
    except (AttributeError, RuntimeError):  # pragma: no cover - older TF or already running
        log.debug("op determinism not available")


def stratified_split(labels: np.ndarray, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices of a class-stratified train/validation split (at least one validation sample a class)."""
    rng = np.random.default_rng(seed)
    train: list[np.ndarray] = []
    val: list[np.ndarray] = []
    for cls in np.unique(labels):
        idx = np.flatnonzero(labels == cls)
        rng.shuffle(idx)
        n_val = max(1, round(len(idx) * val_fraction)) if len(idx) > 1 else 0
        val.append(idx[:n_val])
        train.append(idx[n_val:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(val))


def augment_character(gray: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A plausible variant of one grey crop: rotation, scale, squeeze, shift, stroke width, blur, noise."""
    h, w = gray.shape
    angle = rng.uniform(-8.0, 8.0)
    scale = rng.uniform(0.85, 1.1)
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), angle, scale)
    matrix[0, :] *= rng.uniform(0.65, 1.1)  # horizontal squeeze: plate fonts are narrow
    matrix[0, 2] += w * (0.5 - 0.5 * matrix[0, 0]) + rng.uniform(-0.06, 0.06) * w
    matrix[1, 2] += rng.uniform(-0.06, 0.06) * h
    out = cv2.warpAffine(gray, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    stroke = int(rng.integers(-1, 2))
    if stroke:
        kernel = np.ones((3, 3), np.uint8)
        out = cv2.dilate(out, kernel) if stroke > 0 else cv2.erode(out, kernel)
    if rng.random() < 0.5:
        out = cv2.GaussianBlur(out, (0, 0), rng.uniform(0.4, 1.6))
    noise = rng.normal(0.0, rng.uniform(0.0, 8.0), out.shape)
    return np.clip(out.astype(np.float32) + noise, 0, 255).astype(np.uint8)


@dataclass
class TrainResult:
    """What a training run produced and measured."""

    model_path: Path
    sidecar_path: Path
    val_accuracy: float
    per_class_accuracy: dict[str, float]
    epochs_run: int
    seconds: float
    history: dict[str, list[float]]
    # Validation labels and predicted classes, for the report's confusion matrix.
    val_labels: np.ndarray | None = None
    val_predictions: np.ndarray | None = None


def time_budget_callback(max_seconds: float) -> object:
    """A Keras callback that ends training after the epoch that exhausts ``max_seconds``."""
    import keras

    class TimeBudget(keras.callbacks.Callback):
        def on_train_begin(self, logs: object = None) -> None:
            self.started = time.perf_counter()

        def on_epoch_end(self, epoch: int, logs: object = None) -> None:
            if time.perf_counter() - self.started >= max_seconds:
                log.info("time budget of %.0f s reached after epoch %d", max_seconds, epoch + 1)
                self.model.stop_training = True

    return TimeBudget()


def per_class_accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """Accuracy of each class present in ``y_true``, keyed by character."""
    return {
        CLASSES[c]: float(np.mean(y_pred[y_true == c] == c)) for c in range(len(CLASSES)) if np.any(y_true == c)
    }


def build_training_arrays(
    chars: CharacterSet, indices: np.ndarray, cfg: TrainConfig, rng: np.random.Generator, copies: int
) -> tuple[np.ndarray, np.ndarray]:
    """Preprocessed originals plus ``copies`` augmented variants of each."""
    crops = [chars.images[i] for i in indices]
    labels = chars.labels[indices]
    batches = [preprocess_batch(crops, cfg.preprocess)]
    for _ in range(copies):
        batches.append(preprocess_batch([augment_character(c, rng) for c in crops], cfg.preprocess))
    return np.concatenate(batches), np.tile(labels, copies + 1)


def train(
    cfg: TrainConfig,
    chars: CharacterSet | None = None,
    extra: CharacterSet | None = None,
    limit_per_class: int | None = None,
) -> TrainResult:
    """Train a character classifier and save ``cfg.out`` (HDF5) and its JSON sidecar.

    Args:
        cfg: validated training configuration.
        chars: crops to train on; loaded from ``cfg.data_dir`` when omitted.
        extra: more crops for the training side only (never validated on); by default
            ``cfg.synthetic_plates`` synthetic plates cut by our own segmenter.
        limit_per_class: keep at most this many images a class (smoke tests).
    """
    cfg.validate()
    seed_everything(cfg.seed)
    import keras

    from plateocr.models import build_model

    started = time.perf_counter()
    if chars is None:
        subsets = ("good", "bad") if cfg.include_bad else ("good",)
        chars = load_chars74k(cfg.data_dir, subsets, limit_per_class)
    train_idx, val_idx = stratified_split(chars.labels, cfg.val_fraction, cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    x_train, y_train = build_training_arrays(chars, train_idx, cfg, rng, cfg.augment_copies)
    if extra is None and cfg.synthetic_plates > 0:
        from plateocr.synthset import synthetic_characters

        extra = synthetic_characters(cfg.synthetic_plates, cfg.seed)
    if extra is not None and len(extra):
        # Synthetic crops are already degraded plate by plate: no further augmentation.
        x_extra, y_extra = build_training_arrays(extra, np.arange(len(extra)), cfg, rng, 0)
        x_train, y_train = np.concatenate([x_train, x_extra]), np.concatenate([y_train, y_extra])
    x_val = preprocess_batch([chars.images[i] for i in val_idx], cfg.preprocess)
    y_val = chars.labels[val_idx]
    log.info("training on %d samples, validating on %d", len(x_train), len(x_val))

    size = cfg.preprocess.size
    model = build_model(cfg.arch, len(CLASSES), (size, size, 1))
    model.compile(
        optimizer=keras.optimizers.Adam(cfg.learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    callbacks = [
        keras.callbacks.EarlyStopping(monitor="val_loss", patience=cfg.patience, restore_best_weights=True),
        keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=max(1, cfg.patience // 2)),
    ]
    if cfg.max_seconds > 0:
        callbacks.append(time_budget_callback(cfg.max_seconds))
    fit = model.fit(
        x_train,
        y_train,
        batch_size=cfg.batch_size,
        epochs=cfg.epochs,
        validation_data=(x_val, y_val),
        shuffle=True,
        callbacks=callbacks,
        verbose=2 if log.isEnabledFor(logging.INFO) else 0,
    )
    seconds = time.perf_counter() - started
    predicted = np.argmax(model.predict(x_val, batch_size=512, verbose=0), axis=1)
    val_accuracy = float(np.mean(predicted == y_val))
    history = {k: [float(v) for v in vs] for k, vs in fit.history.items()}

    with atomic_path(cfg.out) as tmp:
        model.save(tmp)
    onnx_check = export_beside(model, cfg.out, x_val[:EXPORT_CHECK_SAMPLES])
    sidecar = sidecar_path(cfg.out)
    write_json_atomic(
        sidecar,
        {
            "classes": "".join(CLASSES),
            "arch": cfg.arch,
            "seed": cfg.seed,
            "epochs_run": len(history.get("loss", [])),
            "val_accuracy": val_accuracy,
            "train_seconds": round(seconds, 1),
            "train_samples": int(len(x_train)),
            "synthetic_crops": 0 if extra is None else len(extra),
            "val_samples": int(len(x_val)),
            "preprocess": to_jsonable(cfg.preprocess),
            "config": to_jsonable(replace(cfg, out=Path(cfg.out).name)),
            "onnx": onnx_check,
        },
    )
    return TrainResult(
        model_path=Path(cfg.out),
        sidecar_path=sidecar,
        val_accuracy=val_accuracy,
        per_class_accuracy=per_class_accuracy(y_val, predicted),
        epochs_run=len(history.get("loss", [])),
        seconds=seconds,
        history=history,
        val_labels=y_val,
        val_predictions=predicted,
    )


def export_saved_model(model_path: Path, data_dir: Path, per_class: int = 8) -> dict[str, object]:
    """Export an already trained Keras model file to ONNX (models trained before ONNX reading have none).

    The check batch is ``per_class`` Chars74K crops of each class, preprocessed as the
    sidecar says; the sidecar (when there is one) gets the export's record.

    Raises:
        SetupError: no such model, or an export that does not match Keras.
        DataError: no Chars74K data for the check batch.
    """
    model_path = Path(model_path)
    if not model_path.is_file():
        raise SetupError(f"{model_path}: no model found to export")
    sidecar = sidecar_path(model_path)
    try:
        meta = json.loads(sidecar.read_text(encoding="utf-8")) if sidecar.is_file() else {}
        preprocess = PreprocessConfig(**meta.get("preprocess", {}))
        preprocess.validate()
    except (json.JSONDecodeError, AttributeError, TypeError, ValueError) as exc:
        raise SetupError(f"{sidecar}: unreadable model sidecar ({exc})") from exc
    chars = load_chars74k(data_dir, ("good",), per_class)
    import_tensorflow_quietly()
    import keras

    try:
        model = keras.models.load_model(model_path, compile=False)
    except Exception as exc:  # noqa: BLE001 - h5py/keras raise many types for a corrupt file
        raise SetupError(f"{model_path}: cannot load model ({exc.__class__.__name__}: {str(exc)[:200]})") from exc
    record = export_beside(model, model_path, preprocess_batch(chars.images, preprocess))
    if sidecar.is_file():
        write_json_atomic(sidecar, {**meta, "onnx": record})
    return record
