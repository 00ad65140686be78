"""Model files for reading without TensorFlow: ONNX export at training time, ONNX Runtime at reading time.

Training saves a Keras model (``.h5``) and, beside it, the same network as ``.onnx``, checked
against Keras on a validation batch. Reading loads only the ``.onnx`` through ``onnxruntime``:
a reading process never imports TensorFlow or Keras (``import onnxruntime`` takes a fifth of
a second, ``import tensorflow`` five). Nothing here is tied to one network: any Keras model
with one input and one output exports and runs the same way.

This module is imported when reading, so it imports neither TensorFlow nor Keras (the export
works on a model object that the caller already built or loaded).
"""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from plateocr.errors import SetupError
from plateocr.results import atomic_path

log = logging.getLogger(__name__)

# Largest difference between Keras' and ONNX Runtime's outputs that an export may show.
EXPORT_TOLERANCE = 1e-4


def sidecar_path(model_path: Path) -> Path:
    """The JSON file saved beside a model: class map, preprocessing, provenance, ONNX check."""
    return Path(model_path).with_suffix(".json")


def onnx_path(model_path: Path) -> Path:
    """The ONNX export saved beside a Keras model (``.h5`` / ``.keras``) of the same name."""
    return Path(model_path).with_suffix(".onnx")


def usable_cpus() -> int:
    """CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


class ExportError(SetupError):
    """The ONNX export does not compute what the Keras model computes."""


def export_onnx(keras_model: Any, path: Path, check_batch: np.ndarray, tolerance: float = EXPORT_TOLERANCE) -> float:
    """Write ``keras_model`` as ONNX to ``path`` (whole or not at all) once it matches Keras on ``check_batch``.

    Args:
        keras_model: a Keras model with one input and one output.
        path: the ``.onnx`` file to write.
        check_batch: a batch of real inputs (e.g. validation samples) to compare the outputs on.
        tolerance: largest accepted absolute difference of any output value.

    Returns:
        The largest absolute difference between Keras' and ONNX Runtime's outputs on ``check_batch``.

    Raises:
        ExportError: the outputs differ by more than ``tolerance``; nothing is written.
    """
    check_batch = np.asarray(check_batch, dtype=np.float32)
    if len(check_batch) == 0:
        raise ValueError("the export check needs at least one input")
    # Calling the model also builds it: Keras refuses to export a model that was never called.
    expected = np.asarray(keras_model.predict(check_batch, verbose=0))
    with atomic_path(path) as tmp:
        with warnings.catch_warnings():
            # Keras' tf2onnx shim probes ``np.object``, which NumPy 2 answers with a FutureWarning.
            warnings.filterwarnings("ignore", message=".*np.object", category=FutureWarning)
            keras_model.export(str(tmp), format="onnx", verbose=False)
        got = OnnxModel(tmp, threads=1).predict(check_batch)
        if got.shape != expected.shape:
            raise ExportError(f"{path}: ONNX output shape {got.shape} differs from Keras' {expected.shape}")
        diff = float(np.max(np.abs(got - expected)))
        if not diff <= tolerance:  # also refuses NaN
            raise ExportError(f"{path}: ONNX export differs from Keras by {diff:.2g} (more than {tolerance:g})")
    log.info("exported %s (max abs difference from Keras: %.2g on %d inputs)", path, diff, len(check_batch))
    return diff


def export_beside(keras_model: Any, model_path: Path, check_batch: np.ndarray) -> dict[str, object]:
    """:func:`export_onnx` to the ``.onnx`` beside a Keras model file; returns the record for its sidecar."""
    exported = onnx_path(model_path)
    diff = export_onnx(keras_model, exported, check_batch)
    return {"file": exported.name, "max_abs_diff": diff, "checked_on": int(len(check_batch))}


# Rows of one ONNX Runtime run (``OnnxModel.predict``).
RUN_ROWS = 128


class OnnxModel:
    """One ONNX Runtime session on the CPU: ``predict(batch) -> outputs``, for any batch size.

    Args:
        path: the ``.onnx`` file.
        threads: intra-op threads; None uses every CPU this process may run on. A worker
            process of a pool gives its share (CPUs // workers), so N workers never run N x all-cores threads.

    Raises:
        SetupError: missing or unreadable file, or not one input and one output.
    """

    def __init__(self, path: Path, threads: int | None = None) -> None:
        import onnxruntime as ort

        self.path = Path(path)
        if not self.path.is_file():
            raise SetupError(f"{self.path}: no ONNX model found")
        options = ort.SessionOptions()
        options.intra_op_num_threads = max(1, threads or usable_cpus())
        options.inter_op_num_threads = 1
        # Idle threads sleep instead of spinning: a spinning pool steals the cores that OpenCV (the
        # filters, the localiser) and the other --jobs workers need between two model calls.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.log_severity_level = 3  # errors only; they surface as exceptions anyway
        try:
            self.session = ort.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own types for a corrupt file
            raise SetupError(f"{self.path}: cannot load ONNX model ({exc.__class__.__name__}: {str(exc)[:200]})") from exc
        inputs, outputs = self.session.get_inputs(), self.session.get_outputs()
        if len(inputs) != 1 or len(outputs) != 1:
            raise SetupError(f"{self.path}: expected one input and one output, found {len(inputs)} and {len(outputs)}")
        self._input, self._output = inputs[0].name, outputs[0].name
        self.input_shape = _shape(inputs[0].shape)
        self.output_shape = _shape(outputs[0].shape)

    def predict(self, x: np.ndarray) -> np.ndarray:
        """The model's output for a batch (float32; first axis the batch).

        The runtime is given at most ``RUN_ROWS`` rows at a time: its intermediate activations grow
        with the rows of one run (a label file of 300 plate boxes is 3,000 views of the whole-plate
        reader, and read in one run they took 2.2 GB), while beyond a few dozen rows a larger run is no
        faster a row.
        """
        batch = np.ascontiguousarray(x, dtype=np.float32)
        if len(batch) <= RUN_ROWS:
            return np.asarray(self.session.run([self._output], {self._input: batch})[0])
        return np.concatenate([
            np.asarray(self.session.run([self._output], {self._input: batch[start : start + RUN_ROWS]})[0])
            for start in range(0, len(batch), RUN_ROWS)
        ])


def _shape(dims: list[object]) -> tuple[int | None, ...]:
    """Keras-style shape: named or unknown (symbolic) dimensions become None."""
    return tuple(d if isinstance(d, int) else None for d in dims)


class KerasModel:
    """The same interface as :class:`OnnxModel` on the Keras model file itself (imports TensorFlow).

    Reading never uses it: it is the reference that tests and benchmarks compare ONNX Runtime
    with (the way reading ran before ONNX: one traced call for any batch size).
    """

    def __init__(self, path: Path) -> None:
        from plateocr.tfimport import import_tensorflow_quietly

        import_tensorflow_quietly()
        import keras
        import tensorflow as tf

        self.path = Path(path)
        self.model = keras.models.load_model(self.path, compile=False)
        self.input_shape = tuple(self.model.input_shape)
        self.output_shape = tuple(self.model.output_shape)
        spec = tf.TensorSpec((None, *self.input_shape[1:]), tf.float32)
        self._forward = tf.function(lambda batch: self.model(batch, training=False), input_signature=[spec])

    def predict(self, x: np.ndarray) -> np.ndarray:
        """The model's output for a batch, as reading computed it before ONNX Runtime."""
        return np.asarray(self._forward(np.asarray(x, dtype=np.float32)))
