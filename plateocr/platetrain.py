"""Training the whole-plate reader on synthetic plates generated on the fly (never the same plate twice).

Each batch is drawn from its own random stream, seeded by (seed, epoch, batch index), so the
batches do not depend on which worker thread made them: the same seed gives the same
model on the same machine. A fixed validation set, drawn once from another stream, measures exact
plates and characters after every epoch; the slot temperature that calibrates the confidence is
fitted on it.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

from config import PlateModelConfig, PlateTrainConfig, to_jsonable
from plateocr.onnxrt import export_beside, sidecar_path
from plateocr.platemodel import decode_slots, encode_texts, fit_temperature, plate_inputs
from plateocr.plates import Box
from plateocr.results import atomic_path, write_json_atomic

log = logging.getLogger(__name__)

# One training sample: (BGR plate crop, printed text); the optional second argument is the difficulty.
Sampler = Callable[..., tuple[np.ndarray, str]]
# Optimiser steps between two validations (a Keras "epoch" here).
STEPS_PER_EPOCH = 500
# Threads drawing batches while the model trains. Forked worker processes were about 5 % faster a step
# (the drawing is mostly small NumPy/OpenCV calls, which hold the GIL), but Keras' process pool can
# hang at an epoch's end: a worker left waiting on the task queue's lock is joined forever (seen once
# in a CI run of the real-data tests). Threads draw the same batches, so the model is the same.
DATA_WORKERS = 2
# A curriculum's first plates are drawn at this difficulty (1: the full generator).
EASIEST_DIFFICULTY = 0.25


def curriculum_difficulty(step: int, total_steps: int, ramp: float) -> float:
    """The difficulty of step ``step``: rising linearly from EASIEST_DIFFICULTY to 1 over the first ``ramp`` of the steps.

    Rounded to twentieths, so that the generator's eased settings are a handful, made once each.
    """
    if ramp <= 0.0:
        return 1.0
    progress = min(1.0, step / max(1.0, ramp * total_steps))
    return round(20 * (EASIEST_DIFFICULTY + (1.0 - EASIEST_DIFFICULTY) * progress)) / 20


def make_batch(
    sampler: Sampler, rng: np.random.Generator, size: int, cfg: PlateModelConfig, difficulty: float = 1.0
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """``size`` samples as model inputs, slot targets and texts (``difficulty`` below 1: easier plates)."""
    crops, texts = zip(*(sampler(rng) if difficulty >= 1.0 else sampler(rng, difficulty) for _ in range(size)))
    return plate_inputs(list(crops), cfg), encode_texts(list(texts), cfg), list(texts)


def batch_sequence(
    sampler: Sampler, seed: int, batch_size: int, steps: int, cfg: PlateModelConfig,
    difficulty: Callable[[int], float] = lambda step: 1.0,
) -> object:
    """Fresh batches of ``sampler``'s plates (``fresh_batches``), each at the difficulty of its step."""

    def draw(rng: np.random.Generator, step: int) -> tuple[np.ndarray, np.ndarray]:
        x, y, _ = make_batch(sampler, rng, batch_size, cfg, difficulty(step))
        return x, y

    return fresh_batches(draw, seed, steps)


def fresh_batches(
    draw: Callable[[np.random.Generator, int], tuple[np.ndarray, np.ndarray]], seed: int, steps: int
) -> object:
    """A ``keras.utils.PyDataset`` of ``steps`` fresh batches an epoch: batch ``i`` of epoch ``e`` is
    ``draw(rng, e * steps + i)`` with ``rng`` seeded by (seed, e, i), whichever worker thread draws it.

    The worker threads read the epoch count that ``on_epoch_end`` raises.
    """
    import keras

    class FreshBatches(keras.utils.PyDataset):
        def __init__(self) -> None:
            super().__init__(workers=DATA_WORKERS, use_multiprocessing=False, max_queue_size=8)
            self.epoch = 0

        def __len__(self) -> int:
            return steps

        def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
            return draw(np.random.default_rng([seed, self.epoch, index]), self.epoch * steps + index)

        def on_epoch_end(self) -> None:
            self.epoch += 1

    return FreshBatches()


def conv_bn_relu(x: object, filters: int, name: str, strides: int = 1) -> object:
    """A 3x3 convolution (no bias), batch normalisation and ReLU, its layers named after ``name``
    (so that a saved file's layout does not depend on what was built before)."""
    from keras import layers

    x = layers.Conv2D(filters, 3, strides=strides, padding="same", use_bias=False, name=name)(x)
    x = layers.BatchNormalization(name=f"{name}_bn")(x)
    return layers.Activation("relu", name=f"{name}_relu")(x)


def build_plate_model(cfg: PlateModelConfig, precision: str = "float32") -> object:
    """A small convolutional stack read out by attention: each output slot asks the plate for its character.

    The strided first convolution and three poolings (the last one halves the height only) leave a
    ``height/16 x width/8`` map of 128 features, each cell tagged with a learned position. One
    learned query per slot attends over those cells (one attention layer with a feed-forward
    step), and one dense layer, shared by every slot, names the character. Sharing the classifier
    across slots is what lets a character learned in one position be read in any other, so two-row,
    tilted and off-centre plates need no segmentation and far fewer training plates than one
    dense layer per slot (measured in the README).

    ``precision`` is the Keras dtype policy of its layers ("mixed_bfloat16": bfloat16 arithmetic on
    float32 weights, but the shared classifier in float32; the loss is computed in float32).
    """
    import keras

    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(precision)
    try:
        return _plate_model(cfg)
    finally:
        keras.config.set_dtype_policy(previous)


def _plate_model(cfg: PlateModelConfig) -> object:
    import keras
    from keras import layers

    from plateocr.platelayers import PositionEmbedding, SlotQueries

    dim = 128  # features of each cell and of each slot's query
    conv = conv_bn_relu
    inputs = keras.Input((cfg.height, cfg.width, cfg.channels), name="plate")
    x = conv(inputs, 24, "conv1", strides=2)
    x = conv(x, 32, "conv2")
    x = layers.MaxPooling2D(name="pool2")(x)
    x = conv(x, 64, "conv3")
    x = conv(x, 64, "conv4")
    x = layers.MaxPooling2D(name="pool4")(x)
    x = conv(x, 128, "conv5")
    x = conv(x, 128, "conv6")
    x = layers.MaxPooling2D((2, 1), name="pool6")(x)
    x = PositionEmbedding(name="position")(layers.Dense(dim, name="project")(x))
    cells = layers.Reshape(((cfg.height // 16) * (cfg.width // 8), dim), name="cells")(x)
    queries = SlotQueries(cfg.slots, dim, name="queries")(cells)
    # Residual additions are Add layers, not "+": Keras' .h5 loader cannot rebuild a bare "+" node.
    attended = layers.MultiHeadAttention(4, dim // 4, name="attend")(query=queries, value=cells)
    q = layers.LayerNormalization(name="attend_norm")(layers.Add(name="attend_add")([queries, attended]))
    hidden = layers.Dense(2 * dim, activation="relu", name="feed")(q)
    q = layers.LayerNormalization(name="feed_norm")(layers.Add(name="feed_add")([q, layers.Dense(dim, name="feed_out")(hidden)]))
    q = layers.Dropout(0.1, name="dropout")(q)
    # The classifier computes in float32 whatever the precision (PlateTrainConfig.precision).
    x = layers.Dense(len(cfg.alphabet), name="classes", dtype="float32")(q)
    outputs = layers.Reshape((cfg.slots, len(cfg.alphabet)), name="logits")(x)
    return keras.Model(inputs, outputs, name="plate_reader")


def float32_copy(model: object, cfg: PlateModelConfig) -> object:
    """The trained model in float32 arithmetic: what is validated, saved and exported (ONNX Runtime
    has no bfloat16 kernels for most of its layers). The weights are float32 already; a float32
    model is returned as it is."""
    if all(layer.dtype_policy.compute_dtype == "float32" for layer in model.layers):
        return model
    copy = build_plate_model(cfg)
    copy.set_weights(model.get_weights())
    return copy


@dataclass
class PlateTrainResult:
    """What a whole-plate training run produced and measured."""

    model_path: Path
    sidecar_path: Path
    val_plate_accuracy: float
    val_char_accuracy: float
    temperature: float
    steps: int
    seconds: float
    history: dict[str, list[float]]
    val_texts: list[str]
    val_readings: list[str]
    # Validation slot targets and argmax classes, (n, slots) each: the report's confusion matrix.
    val_targets: np.ndarray
    val_predictions: np.ndarray


def slot_loss(classes: int, smoothing: float) -> Callable[[object, object], object]:
    """Cross-entropy of every slot's logits against its class index, the targets smoothed by ``smoothing``."""
    import keras

    if smoothing <= 0.0:
        return keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    smoothed = keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=smoothing)

    def loss(targets: object, logits: object) -> object:
        return smoothed(keras.ops.one_hot(keras.ops.cast(targets, "int32"), classes), logits)

    return loss


def plate_metrics(targets: np.ndarray, logits: np.ndarray) -> tuple[float, float]:
    """Exact-plate accuracy (every slot right, pads included) and slot accuracy over non-pad targets."""
    predicted = logits.argmax(axis=-1)
    plates = float(np.mean(np.all(predicted == targets, axis=1)))
    return plates, float(np.mean(predicted == targets))


def default_sampler(cfg: PlateTrainConfig) -> Sampler:
    """The training mix of ``cfg.families`` (all by default), Chars74K glyphs for a share of the plates."""
    from plateocr.platemix import training_sampler

    return training_sampler(
        cfg.data_dir, cfg.chars74k_share, cfg.families, levelled_share=cfg.levelled_share, two_row_share=cfg.two_row_share,
        min_width=cfg.min_plate_width, max_width=cfg.max_plate_width,
    )


def train_plate_reader(cfg: PlateTrainConfig, sampler: Sampler | None = None) -> PlateTrainResult:
    """Train the whole-plate reader and save ``cfg.out`` with its JSON sidecar.

    Args:
        cfg: validated training configuration.
        sampler: draws one (crop, text) sample; the generator's default mix when omitted.
    """
    cfg.validate()
    from plateocr.train import seed_everything

    seed_everything(cfg.seed)
    import keras

    # The weights are drawn first, before anything else can touch a global random state.
    mcfg = cfg.model
    model = build_plate_model(mcfg, cfg.precision)
    cv2.setNumThreads(1)
    sampler = sampler or default_sampler(cfg)
    started = time.perf_counter()
    x_val, y_val, val_texts = make_batch(sampler, np.random.default_rng([cfg.seed, 1 << 20]), cfg.val_samples, mcfg)
    steps_per_epoch = min(STEPS_PER_EPOCH, cfg.steps)
    epochs = max(1, round(cfg.steps / steps_per_epoch))
    schedule = keras.optimizers.schedules.CosineDecay(
        cfg.learning_rate * 0.1, decay_steps=epochs * steps_per_epoch, warmup_target=cfg.learning_rate,
        warmup_steps=min(500, epochs * steps_per_epoch // 10), alpha=0.02,
    )
    model.compile(
        optimizer=keras.optimizers.Adam(schedule, clipnorm=5.0),
        loss=slot_loss(len(mcfg.alphabet), cfg.label_smoothing),
        metrics=["accuracy"],
    )
    callbacks: list[object] = []
    if cfg.max_seconds > 0:
        from plateocr.train import time_budget_callback

        callbacks.append(time_budget_callback(cfg.max_seconds))
    log.info("whole-plate reader: %d epochs of %d steps, batch %d", epochs, steps_per_epoch, cfg.batch_size)
    fit = model.fit(
        batch_sequence(
            sampler, cfg.seed, cfg.batch_size, steps_per_epoch, mcfg,
            lambda step: curriculum_difficulty(step, epochs * steps_per_epoch, cfg.curriculum),
        ),
        epochs=epochs,
        validation_data=(x_val, y_val),
        shuffle=False,  # every batch is freshly drawn already; shuffling would draw on a global random state
        callbacks=callbacks,
        verbose=2 if log.isEnabledFor(logging.INFO) else 0,
    )
    seconds = time.perf_counter() - started
    history = {k: [float(v) for v in vs] for k, vs in fit.history.items()}
    model = float32_copy(model, mcfg)
    logits = np.asarray(model.predict(x_val, batch_size=256, verbose=0))
    plate_acc, char_acc = plate_metrics(y_val, logits)
    temperature = fit_temperature(logits, y_val)
    readings = [r.text for r in decode_slots(logits, mcfg, temperature)]
    with atomic_path(cfg.out) as tmp:
        model.save(tmp)
    onnx = export_beside(model, Path(cfg.out), x_val[:256])
    sidecar = sidecar_path(cfg.out)
    meta = {
        "kind": "plate_reader",
        "alphabet": "".join(mcfg.alphabet),
        "model": to_jsonable(mcfg),
        "temperature": temperature,
        "seed": cfg.seed,
        "steps": len(history.get("loss", [])) * steps_per_epoch,
        "val_plate_accuracy": plate_acc,
        "val_char_accuracy": char_acc,
        "train_seconds": round(seconds, 1),
        "config": to_jsonable(replace(cfg, out=Path(cfg.out).name)),
        "onnx": onnx,
    }
    write_json_atomic(sidecar, meta)
    if cfg.calibration_samples:
        calibrate_saved(cfg, sampler)
    log.info("validation: %.1f %% plates, %.1f %% slots; temperature %.2f", 100 * plate_acc, 100 * char_acc, temperature)
    return PlateTrainResult(
        model_path=Path(cfg.out),
        sidecar_path=sidecar,
        val_plate_accuracy=plate_acc,
        val_char_accuracy=char_acc,
        temperature=temperature,
        steps=len(history.get("loss", [])) * steps_per_epoch,
        seconds=seconds,
        history=history,
        val_texts=val_texts,
        val_readings=readings,
        val_targets=y_val,
        val_predictions=logits.argmax(axis=-1),
    )


def calibrate_saved(cfg: PlateTrainConfig, sampler: Sampler | None = None) -> dict[str, dict[str, float]]:
    """Fit every reader mode's calibration for the saved model ``cfg.out`` and record it in its sidecar.

    The held-out plates come from their own stream of ``cfg.seed`` (never a training batch); the
    character model is ``cfg.chars_model`` when it exists (else only the "plate" mode is fitted).
    """
    from plateocr.platemix import in_surroundings

    sampler = sampler or default_sampler(cfg)
    chars_model = cfg.chars_model if Path(cfg.chars_model).is_file() else None
    rng = np.random.default_rng([cfg.seed, 2 << 20])
    samples = []
    for _ in range(cfg.calibration_samples):
        image, text = sampler(rng)
        samples.append((*in_surroundings(image, rng), text))
    fits = fit_calibration(Path(cfg.out), chars_model, samples)
    sidecar = sidecar_path(cfg.out)
    meta = json.loads(sidecar.read_text(encoding="utf-8"))
    meta.update(
        calibration=fits,
        calibration_samples=cfg.calibration_samples,
        calibration_chars_model=None if chars_model is None else Path(chars_model).name,
    )
    write_json_atomic(sidecar, meta)
    return fits


def fit_calibration(
    plate_model: Path, chars_model: Path | None, samples: list[tuple[np.ndarray, Box, str]]
) -> dict[str, dict[str, float]]:
    """Each reader mode's Platt fit, from the trained models' own readings of held-out plate boxes.

    ``samples``: (image, plate box read as a label's, text) each; the image reaches past
    the box, so that the reader's wider views see what they would in a photo.

    Every answered reading counts: a Spanish plate read right, read wrong, or answered where a
    foreign plate or no plate was (a phantom). Without a character model only "plate" is fitted.
    """
    from dataclasses import asdict

    from config import RecognizeConfig
    from plateocr.calibrate import Platt, fit_platt
    from plateocr.recognize import PlateCandidate, PlateReader, decide

    modes = ("plate",) if chars_model is None else ("chars", "plate", "both")
    reader = PlateReader(
        chars_model or Path(), RecognizeConfig(plate_model=plate_model, reader="plate" if chars_model is None else "both")
    )
    raw: dict[str, list[float]] = {m: [] for m in modes}
    right: dict[str, list[bool]] = {m: [] for m in modes}
    for image, box, text in samples:
        chars, plates = reader.evidence(image, [PlateCandidate(box, "label")])
        for mode in modes:
            verdict, _ = decide(chars, plates, [1.0], mode, Platt())
            if verdict.text:
                raw[mode].append(verdict.confidence)
                right[mode].append(verdict.text == text)
    fits = {m: asdict(fit_platt(np.array(raw[m]), np.array(right[m]))) for m in modes}
    log.info("calibration on %d plates: %s", len(samples), fits)
    return fits


def export_saved_plate_model(model_path: Path, samples: int = 64) -> dict[str, object]:
    """Export an already trained whole-plate model file to ONNX, checked on ``samples`` generated crops.

    Raises:
        SetupError: no such model or sidecar, or an export that does not match Keras.
    """
    from plateocr.errors import SetupError
    from plateocr.platereader import load_plate_sidecar
    from plateocr.tfimport import import_tensorflow_quietly

    model_path = Path(model_path)
    if not model_path.is_file():
        raise SetupError(f"{model_path}: no model found to export")
    mcfg, _ = load_plate_sidecar(model_path)
    check, _, _ = make_batch(default_sampler(PlateTrainConfig(chars74k_share=0.0)), np.random.default_rng(0), samples, mcfg)
    import_tensorflow_quietly()
    import keras

    import plateocr.platelayers  # noqa: F401 - registers the model's own layers for load_model

    try:
        model = keras.models.load_model(model_path, compile=False)
    except Exception as exc:  # noqa: BLE001 - h5py/keras raise many types for a corrupt file
        raise SetupError(f"{model_path}: cannot load model ({exc.__class__.__name__}: {str(exc)[:200]})") from exc
    record = export_beside(model, model_path, check)
    sidecar = sidecar_path(model_path)
    write_json_atomic(sidecar, {**json.loads(sidecar.read_text(encoding="utf-8")), "onnx": record})
    return record
