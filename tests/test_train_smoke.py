"""``train_cnn.main`` end to end on a tiny fake Chars74K: files, sidecar, architecture, reproducibility."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import train_cnn
from config import CLASSES
from plateocr.models import ARCHITECTURES, build_model

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def train_args(data: Path, out: Path, *extra: str, seed: int = 1) -> list[str]:
    return [
        "--data", str(data), "--out", str(out), "--epochs", "1", "--batch-size", "32",
        "--augment", "0", "--synthetic", "0", "--seed", str(seed), "--quiet", *extra,
    ]  # fmt: skip


def exit_code(argv: list[str]) -> int:
    """``train_cnn.main``'s exit code, whether returned or raised by argparse."""
    try:
        return train_cnn.main(argv)
    except SystemExit as exc:
        return int(exc.code or 0)


def weights(path: Path) -> list[np.ndarray]:
    import keras

    return keras.models.load_model(path, compile=False).get_weights()


@pytest.fixture(scope="module")
def trained(tiny_chars74k_shared: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One 1-epoch training of the default architecture, seed 1; returns the model path."""
    out = tmp_path_factory.mktemp("smoke") / "m.h5"
    assert train_cnn.main(train_args(tiny_chars74k_shared, out)) == 0
    return out


def test_training_writes_the_model_and_its_sidecar(trained, capsys):
    assert trained.is_file() and trained.stat().st_size > 0
    sidecar = trained.with_suffix(".json")
    meta = json.loads(sidecar.read_text(encoding="utf-8"))
    assert meta["classes"] == ALPHABET == "".join(CLASSES)
    assert meta["arch"] == "wide"
    assert meta["seed"] == 1
    assert meta["epochs_run"] == 1
    assert 0.0 <= meta["val_accuracy"] <= 1.0
    assert meta["preprocess"]["size"] == 32
    # The ONNX export that reading loads, checked against Keras on validation crops.
    assert meta["onnx"]["file"] == "m.onnx" and meta["onnx"]["checked_on"] > 0
    assert 0.0 <= meta["onnx"]["max_abs_diff"] <= 1e-4
    # Nothing but the model, the sidecar and the training report is left beside them (no temporary files).
    assert sorted(p.name for p in trained.parent.iterdir()) == [
        "m.h5", "m.json", "m.onnx", "m_confusion.png", "m_curves.png", "m_per_class.csv",
    ]  # fmt: skip


def test_saved_model_maps_32x32_grey_to_36_probabilities(trained):
    import keras

    model = keras.models.load_model(trained, compile=False)
    assert tuple(model.input_shape) == (None, 32, 32, 1)
    assert tuple(model.output_shape) == (None, 36)
    probs = np.asarray(model.predict(np.random.default_rng(0).random((3, 32, 32, 1), dtype=np.float32), verbose=0))
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)


def test_same_seed_same_weights_different_seed_different_weights(trained, tiny_chars74k_shared, tmp_path):
    again, other = tmp_path / "again.h5", tmp_path / "other.h5"
    assert train_cnn.main(train_args(tiny_chars74k_shared, again)) == 0
    assert train_cnn.main(train_args(tiny_chars74k_shared, other, seed=2)) == 0
    first, second, third = weights(trained), weights(again), weights(other)
    assert len(first) == len(second) == len(third)
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    assert any(not np.array_equal(a, c) for a, c in zip(first, third))


def test_arch_seed_trains_the_original_network(tiny_chars74k_shared, tmp_path):
    import keras

    out = tmp_path / "seed.h5"
    assert train_cnn.main(train_args(tiny_chars74k_shared, out, "--arch", "seed")) == 0
    assert json.loads(out.with_suffix(".json").read_text())["arch"] == "seed"
    model = keras.models.load_model(out, compile=False)
    assert isinstance(model, keras.Sequential)
    assert_seed_layers(model)


def layer_signature(layer) -> tuple:
    """A layer's kind and the settings that define the original network."""
    from keras import layers

    if isinstance(layer, layers.Conv2D):
        return ("Conv2D", layer.filters)
    if isinstance(layer, layers.Dense):
        return ("Dense", layer.units, layer.activation.__name__)
    if isinstance(layer, layers.Activation):
        return ("Activation", layer.activation.__name__)
    if isinstance(layer, layers.MaxPooling2D):
        return ("MaxPooling2D", tuple(layer.pool_size))
    if isinstance(layer, layers.Dropout):
        return ("Dropout", layer.rate)
    return (type(layer).__name__,)


SEED_LAYERS = [
    ("Conv2D", 16), ("BatchNormalization",), ("Activation", "relu"),
    ("MaxPooling2D", (3, 3)), ("Dropout", 0.25),
    ("Conv2D", 32), ("BatchNormalization",), ("Activation", "relu"),
    ("Flatten",),
    ("Dense", 1024, "linear"), ("BatchNormalization",), ("Activation", "relu"),
    ("Dense", 512, "linear"), ("BatchNormalization",), ("Activation", "relu"),
    ("Dense", 256, "linear"), ("BatchNormalization",), ("Activation", "relu"),
    ("Dropout", 0.5),
    ("Dense", 36, "softmax"),
]  # fmt: skip


def assert_seed_layers(model) -> None:
    assert [layer_signature(layer) for layer in model.layers] == SEED_LAYERS


def test_seed_architecture_from_the_registry():
    import keras

    assert set(ARCHITECTURES) >= {"seed", "wide"}
    model = build_model("seed", len(CLASSES), (32, 32, 1))
    assert isinstance(model, keras.Sequential)
    assert_seed_layers(model)
    for name in ARCHITECTURES:
        built = build_model(name, len(CLASSES), (32, 32, 1))
        assert isinstance(built, keras.Sequential)
        assert tuple(built.output_shape) == (None, 36)
    with pytest.raises(ValueError, match="nope"):
        build_model("nope", 36, (32, 32, 1))


@pytest.mark.parametrize(
    "bad", [["--epochs", "0"], ["--batch-size", "0"], ["--augment", "-1"], ["--arch", "nope"], ["--epochs", "x"]]
)
def test_bad_flag_values_exit_2(bad, tiny_chars74k_shared, tmp_path, capsys):
    out = tmp_path / "never.h5"
    assert exit_code(train_args(tiny_chars74k_shared, out) + bad) == 2
    assert not out.exists()
    assert capsys.readouterr().err.strip()  # the reason is on stderr


def test_missing_data_exits_2_with_a_message(tmp_path, capsys):
    out = tmp_path / "never.h5"
    assert exit_code(train_args(tmp_path / "no-data", out)) == 2
    assert "Sample001" in capsys.readouterr().err
    assert not out.exists()


def test_synthetic_plates_add_training_crops_cut_by_our_segmenter(tiny_chars74k_shared, tmp_path):
    out = tmp_path / "syn.h5"
    assert train_cnn.main(train_args(tiny_chars74k_shared, out, "--synthetic", "12")) == 0
    meta = json.loads(out.with_suffix(".json").read_text(encoding="utf-8"))
    # Each cleanly segmented plate gives 7 crops; a broken segmenter or generator gives none.
    assert meta["synthetic_crops"] > 0 and meta["synthetic_crops"] % 7 == 0
    assert meta["config"]["synthetic_plates"] == 12
