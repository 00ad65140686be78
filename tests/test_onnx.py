"""Reading through ONNX Runtime: the export matches Keras, reading never imports TensorFlow, same readings."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pytest

from conftest import REPO_ROOT
from test_build import normalise, pins
from test_recognize_cli import GOOD, car_scene, yolo_line

import train_cnn
from config import RecognizeConfig
from plateocr.errors import SetupError
from plateocr.plates import Box
from plateocr.onnxrt import ExportError, KerasModel, OnnxModel, export_onnx, onnx_path
from plateocr.recognize import PlateCandidate, PlateReader
from plateocr.synth import make_scene

# Installed in the reading subprocesses (and, through PYTHONPATH, in their spawned workers): any
# attempt to import TensorFlow, Keras or the exporter is written down and fails.
IMPORT_GUARD = '''
import os, sys

BLOCKED = ("tensorflow", "keras", "tf2onnx", "tf_keras")


class Guard:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            with open(os.environ["IMPORT_GUARD_LOG"], "a") as log:
                log.write(f"{os.getpid()} {name}\\n")
            raise ImportError(f"{name} must not be imported when reading")
        return None


sys.meta_path.insert(0, Guard())
'''

# Runs recognize_plates.main, then reports the exit code, any TensorFlow/Keras module loaded and
# the installed distributions that the modules loaded for the reading come from (not those of the
# interpreter's start-up, such as setuptools' .pth hook).
READ_AND_REPORT = """
import json, sys
from importlib.metadata import packages_distributions
before = set(sys.modules)
import recognize_plates
code = recognize_plates.main(sys.argv[1:])
loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras"))
owners = packages_distributions()
dists = sorted({d for m in set(sys.modules) - before for d in owners.get(m.split(".")[0], [])})
print(json.dumps({"code": code, "loaded": loaded, "dists": dists}))
"""


@pytest.fixture(scope="module")
def photo_folder(rendered_plate, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """One 416 px car photo with its label file (like test6Training's)."""
    import cv2

    root = tmp_path_factory.mktemp("onnx_photos")
    images, labels = root / "images", root / "labels"
    images.mkdir()
    labels.mkdir()
    plate, _ = rendered_plate(GOOD)
    image, _, box = car_scene(cv2.resize(plate, (156, 33)), 416, 416, (130, 300))
    cv2.imwrite(str(images / f"{GOOD}.jpg"), image)
    (labels / f"{GOOD}.txt").write_text(yolo_line(0, box, 416, 416))
    return images, labels


def test_export_matches_keras_on_other_inputs_too(tiny_model):
    """The export that training wrote computes what Keras computes, for any batch size."""
    onnx, keras = OnnxModel(onnx_path(tiny_model), threads=1), KerasModel(tiny_model)
    assert onnx.input_shape == (None, 32, 32, 1) and onnx.output_shape == (None, 36)
    rng = np.random.default_rng(0)
    for size in (1, 7, 64):
        batch = rng.random((size, 32, 32, 1), dtype=np.float32)
        np.testing.assert_allclose(onnx.predict(batch), keras.predict(batch), atol=1e-5)


def test_a_large_batch_is_run_a_slice_at_a_time_with_the_same_outputs(tiny_model):
    """The runtime's activations grow with the rows of one run (300 plate boxes of a label file took
    2.2 GB in one): a batch larger than RUN_ROWS is run in slices, each row's output as alone."""
    import plateocr.onnxrt

    onnx = OnnxModel(onnx_path(tiny_model), threads=1)
    batch = np.random.default_rng(1).random((2 * plateocr.onnxrt.RUN_ROWS + 5, 32, 32, 1), dtype=np.float32)
    run, sizes = onnx.session.run, []

    def recording_run(outputs, feed):
        sizes.append(len(next(iter(feed.values()))))
        return run(outputs, feed)

    onnx.session = type("Session", (), {"run": staticmethod(recording_run)})()
    got = onnx.predict(batch)
    assert sizes == [plateocr.onnxrt.RUN_ROWS, plateocr.onnxrt.RUN_ROWS, 5]
    alone = np.concatenate([onnx.predict(batch[i : i + 1]) for i in (0, 200, len(batch) - 1)])
    np.testing.assert_allclose(got[[0, 200, len(batch) - 1]], alone, rtol=1e-6, atol=1e-7)
    assert got.shape == (len(batch), 36)


class OffByOne:
    """A stand-in Keras model whose ``predict`` disagrees with what it exports."""

    def __init__(self, model: object) -> None:
        self.model = model

    def predict(self, x: np.ndarray, verbose: int = 0) -> np.ndarray:
        return np.asarray(self.model.predict(x, verbose=verbose)) + 1e-3

    def export(self, *args: object, **kwargs: object) -> None:
        self.model.export(*args, **kwargs)


def test_export_differing_from_keras_is_refused_and_nothing_is_written(tiny_model, tmp_path):
    import keras

    model = keras.models.load_model(tiny_model, compile=False)
    batch = np.random.default_rng(1).random((4, 32, 32, 1), dtype=np.float32)
    out = tmp_path / "m.onnx"
    assert export_onnx(model, out, batch) <= 1e-5 and out.is_file()
    refused = tmp_path / "refused.onnx"
    with pytest.raises(ExportError, match=r"refused\.onnx: ONNX export differs from Keras by 0\.001"):
        export_onnx(OffByOne(model), refused, batch)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx"]  # no temporary file left either


def test_a_model_with_two_outputs_is_a_setup_error(tmp_path):
    """OnnxModel serves any one-input one-output model, and says so of others."""
    import onnx
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 3])
    a, b = (helper.make_tensor_value_info(n, TensorProto.FLOAT, [None, 3]) for n in "ab")
    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["a"]), helper.make_node("Relu", ["x"], ["b"])], "two", [x], [a, b]
    )
    path = tmp_path / "two.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8), str(path))
    with pytest.raises(SetupError, match="two.onnx: expected one input and one output, found 1 and 2"):
        OnnxModel(path)


def guarded_env(tmp_path: Path) -> tuple[dict[str, str], Path]:
    guard_dir = tmp_path / "guard"
    guard_dir.mkdir()
    (guard_dir / "sitecustomize.py").write_text(IMPORT_GUARD)
    log = tmp_path / "imports.log"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(guard_dir), str(REPO_ROOT)]), "IMPORT_GUARD_LOG": str(log)}
    return env, log


@pytest.mark.parametrize("jobs", [1, 2])
def test_reading_never_imports_tensorflow_or_keras(jobs, tiny_model, photo_folder, tmp_path):
    """A reading in a fresh process (and its --jobs workers) where TensorFlow and Keras cannot be imported."""
    images, labels = photo_folder
    if jobs > 1:  # a second photo, so that both workers get one
        (images / "second.jpg").write_bytes((images / f"{GOOD}.jpg").read_bytes())
    env, log = guarded_env(tmp_path)
    out = tmp_path / "LicenseResults.txt"
    argv = [str(images), "--labels", str(labels), "--model", str(tiny_model), "--output", str(out), "--jobs", str(jobs)]
    proc = subprocess.run(
        [sys.executable, "-c", READ_AND_REPORT, *argv, "-q"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert (report["code"], report["loaded"]) == (0, []), proc.stderr
    # The slim install is enough: every package the reading used comes with requirements-read.txt.
    assert {normalise(d) for d in report["dists"]} <= requirement_closure(pins("requirements-read.txt"))
    assert not log.exists(), log.read_text()  # nor did any worker try
    assert len(out.read_text().splitlines()) == len(list(images.iterdir()))
    (images / "second.jpg").unlink(missing_ok=True)


def requirement_closure(names: Iterable[str]) -> set[str]:
    """``names`` and every distribution they need, as installed here (extras left out)."""
    from importlib.metadata import PackageNotFoundError, distribution

    from packaging.requirements import Requirement

    seen: set[str] = set()
    todo = [normalise(n) for n in names]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = distribution(name).requires or []
        except PackageNotFoundError:
            continue
        for line in requires:
            req = Requirement(line)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(normalise(req.name))
    return seen


def keras_reader(model: Path) -> PlateReader:
    """The Chars74K reader as it was before ONNX Runtime: the same pipeline, the Keras model in its place."""
    reader = PlateReader(model, RecognizeConfig(reader="chars"))
    reader.chars.model = KerasModel(model)
    return reader


def rounded(reading: object) -> tuple[str, float, tuple[float, ...]]:
    """A reading (or an image's result) to compare: text, confidence and per-character probabilities to 4 decimals."""
    return reading.text, round(reading.confidence, 4), tuple(round(p, 4) for p in reading.char_probs)


def test_same_readings_and_confidences_as_keras(tiny_model):
    """Generated photos read with their plate box and without (the localiser): text, confidence and
    per-character probabilities to 4 decimals equal the Keras path's."""
    onnx, keras = PlateReader(tiny_model, RecognizeConfig(reader="chars")), keras_reader(tiny_model)
    rng = np.random.default_rng(2026)
    compared = 0
    for _ in range(6):
        scene = make_scene(rng, plate_width=float(rng.uniform(70, 160)))
        x, y, w, h = scene.plate_box
        label = PlateCandidate(Box(max(0, x - 4), max(0, y - 3), w + 8, h + 6), "label")
        for candidates in ([label], onnx.localise(scene.image)):
            first, _ = onnx.read_candidates(scene.image, candidates)
            second, _ = keras.read_candidates(scene.image, candidates)
            assert rounded(first) == rounded(second)
            compared += bool(first.char_probs)
    assert compared >= 3  # the tiny model does read something on most of them


def test_export_onnx_option_exports_an_older_model(tiny_model, tiny_chars74k_shared, tmp_path, capsys):
    """`train_cnn.py --export-onnx` turns a model with only its .h5 into one that reads."""
    old = tmp_path / "old.h5"
    old.write_bytes(tiny_model.read_bytes())
    old.with_suffix(".json").write_text(tiny_model.with_suffix(".json").read_text())
    with pytest.raises(SetupError, match=r"old\.h5: no ONNX export beside it"):
        PlateReader(old)
    assert train_cnn.main(["--export-onnx", str(old), "--data", str(tiny_chars74k_shared), "-q"]) == 0
    assert "old.onnx" in capsys.readouterr().out
    meta = json.loads(old.with_suffix(".json").read_text())
    assert meta["onnx"]["file"] == "old.onnx" and meta["onnx"]["max_abs_diff"] <= 1e-4
    batch = np.random.default_rng(3).random((5, 32, 32, 1), dtype=np.float32)
    chars_only = RecognizeConfig(reader="chars")
    np.testing.assert_allclose(
        PlateReader(old, chars_only).chars.predict(batch), PlateReader(tiny_model, chars_only).chars.predict(batch), atol=1e-5
    )


def test_export_onnx_option_without_a_model_exits_2(tmp_path, capsys):
    assert train_cnn.main(["--export-onnx", str(tmp_path / "none.h5"), "-q"]) == 2
    assert "none.h5: no model found" in capsys.readouterr().err
