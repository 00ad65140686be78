"""The whole-plate reader: training on generated plates, its files, reproducibility, and reading with it."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest

import recognize_plates
import train_plate
from config import FORMATS, PLATE_ALPHABET, PlateTrainConfig, RecognizeConfig
from plateocr.errors import SetupError
from plateocr.platereader import WholePlateReader
from plateocr.platetrain import train_plate_reader
from plateocr.plates import Box
from plateocr.recognize import PlateCandidate, PlateReader


def weights(path: Path) -> list[np.ndarray]:
    """Every weight array of an ``.h5`` model, in file order."""
    arrays: list[np.ndarray] = []
    with h5py.File(path, "r") as f:
        f.visititems(lambda _, obj: arrays.append(obj[()]) if isinstance(obj, h5py.Dataset) else None)
    return arrays


def quick(out: Path, seed: int = 1, **kw: object) -> PlateTrainConfig:
    base = dict(out=out, steps=6, batch_size=8, val_samples=16, calibration_samples=0, chars74k_share=0.0, seed=seed)
    return PlateTrainConfig(**{**base, **kw})  # type: ignore[arg-type]


def test_training_writes_model_sidecar_report_and_calibration(tiny_plate_model, tiny_model):
    meta = json.loads(tiny_plate_model.with_suffix(".json").read_text(encoding="utf-8"))
    assert meta["kind"] == "plate_reader"
    assert meta["alphabet"] == "".join(PLATE_ALPHABET)
    assert meta["model"]["slots"] >= 8 and meta["steps"] == 12
    assert 0.05 <= meta["temperature"] <= 20
    assert meta["onnx"]["max_abs_diff"] <= 1e-4 and tiny_plate_model.with_suffix(".onnx").is_file()
    # Calibrated with the character model given: one fit per reader mode.
    assert set(meta["calibration"]) == {"chars", "plate", "both"}
    assert meta["calibration_chars_model"] == tiny_model.name
    stem = tiny_plate_model.parent / tiny_plate_model.stem
    for suffix in ("_curves.png", "_confusion.png", "_per_class.csv"):
        assert not Path(f"{stem}{suffix}").exists()  # the library trains; the script writes the report


def test_same_seed_same_weights_other_seed_others(tmp_path):
    train_plate_reader(quick(tmp_path / "a.h5"))
    train_plate_reader(quick(tmp_path / "b.h5"))
    train_plate_reader(quick(tmp_path / "c.h5", seed=2))
    a, b, c = weights(tmp_path / "a.h5"), weights(tmp_path / "b.h5"), weights(tmp_path / "c.h5")
    assert len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not all(np.array_equal(x, y) for x, y in zip(a, c))


def test_bfloat16_training_is_reproducible_and_saves_a_float32_model(tmp_path):
    import keras

    train_plate_reader(quick(tmp_path / "bf.h5", precision="mixed_bfloat16"))
    train_plate_reader(quick(tmp_path / "bf2.h5", precision="mixed_bfloat16"))
    train_plate_reader(quick(tmp_path / "f32.h5", precision="float32"))
    assert keras.config.dtype_policy().name == "float32"  # the global policy is left as it was
    saved = keras.models.load_model(tmp_path / "bf.h5", compile=False)
    assert {layer.dtype_policy.compute_dtype for layer in saved.layers} == {"float32"}
    meta = json.loads((tmp_path / "bf.json").read_text(encoding="utf-8"))
    assert meta["config"]["precision"] == "mixed_bfloat16" and meta["onnx"]["max_abs_diff"] <= 1e-4
    # Same seed, same arithmetic: the same model; other arithmetic: the trained weights part.
    again = keras.models.load_model(tmp_path / "bf2.h5", compile=False)
    assert all(np.array_equal(x, y) for x, y in zip(saved.get_weights(), again.get_weights()))
    other = keras.models.load_model(tmp_path / "f32.h5", compile=False)
    bf, f32 = saved.get_weights(), other.get_weights()
    assert [w.shape for w in bf] == [w.shape for w in f32] and not all(np.array_equal(x, y) for x, y in zip(bf, f32))


def test_the_float32_copy_of_a_bfloat16_model_computes_what_it_computes():
    from config import PlateModelConfig
    from plateocr.platetrain import build_plate_model, float32_copy

    cfg = PlateModelConfig()
    mixed = build_plate_model(cfg, "mixed_bfloat16")
    assert mixed.get_layer("conv1").compute_dtype == "bfloat16" and mixed.get_layer("classes").compute_dtype == "float32"
    copy = float32_copy(mixed, cfg)
    assert copy is not mixed and copy.get_layer("conv1").compute_dtype == "float32"
    assert all(np.array_equal(a, b) for a, b in zip(mixed.get_weights(), copy.get_weights()))
    x = np.random.default_rng(3).random((4, cfg.height, cfg.width, 1), dtype=np.float32)
    ours, theirs = np.asarray(copy(x, training=False)), np.asarray(mixed(x, training=False)).astype(np.float32)
    assert ours.dtype == np.float32
    assert np.allclose(ours, theirs, atol=0.05 * float(np.abs(ours).max())) and not np.array_equal(ours, theirs)
    assert float32_copy(copy, cfg) is copy


def test_precision_is_validated(tmp_path, capsys):
    with pytest.raises(ValueError, match="precision"):
        quick(tmp_path / "x.h5", precision="float16").validate()
    with pytest.raises(SystemExit):
        train_plate.main(["--out", str(tmp_path / "x.h5"), "--precision", "float16", "-q"])
    assert "--precision" in capsys.readouterr().err


def test_every_epoch_draws_fresh_plates_in_worker_threads(tmp_path, monkeypatch):
    import threading

    import plateocr.platetrain as platetrain

    drawn: list[tuple[int, str]] = []
    lock = threading.Lock()

    def logging_sampler(rng: np.random.Generator, difficulty: float = 1.0) -> tuple[np.ndarray, str]:
        text = "".join(rng.choice(list("BCDFGHJKLM"), 7))
        with lock:
            drawn.append((threading.get_ident(), text))
        return np.full((20, 80, 3), 200, np.uint8), text

    monkeypatch.setattr(platetrain, "STEPS_PER_EPOCH", 2)
    train_plate_reader(quick(tmp_path / "m.h5", steps=6, batch_size=3), logging_sampler)
    main = threading.main_thread().ident
    training = [text for thread, text in drawn if thread != main]
    # Three epochs of two batches of three plates, each epoch its own, drawn by worker threads: no plate twice.
    assert len(training) == 18 and len(set(training)) == 18
    here = [text for thread, text in drawn if thread == main]
    # Drawn in the main thread: the 16 validation plates first, never a training plate.
    assert len(here) >= 16 and not set(here[:16]) & set(training)


def test_curriculum_rises_from_easiest_to_full_over_its_share_of_the_steps():
    from plateocr.platetrain import EASIEST_DIFFICULTY, curriculum_difficulty

    ramp = [curriculum_difficulty(step, 1000, 0.4) for step in range(0, 1001, 50)]
    assert ramp[0] == EASIEST_DIFFICULTY and ramp == sorted(ramp)
    assert curriculum_difficulty(360, 1000, 0.4) < 1.0 == curriculum_difficulty(400, 1000, 0.4) == ramp[-1]
    assert all(curriculum_difficulty(step, 1000, 0.0) == 1.0 for step in (0, 10, 999))


def test_curriculum_batches_are_easier_first_and_unchanged_once_full():
    """Early batches of a curriculum differ from the full generator's; past the ramp they are the same plates."""
    from config import PlateModelConfig
    from plateocr.platemix import training_sampler
    from plateocr.platetrain import batch_sequence, curriculum_difficulty

    sampler, cfg = training_sampler(Path("no-data"), 0.0), PlateModelConfig()
    full = batch_sequence(sampler, 7, 6, 10, cfg)
    eased = batch_sequence(sampler, 7, 6, 10, cfg, lambda step: curriculum_difficulty(step, 10, 0.5))
    assert not np.array_equal(full[0][0], eased[0][0])
    assert np.array_equal(full[0][1], eased[0][1])  # the same texts: only how they look is eased
    assert np.array_equal(full[7][0], eased[7][0]) and np.array_equal(full[7][1], eased[7][1])


def test_eased_plates_are_less_degraded():
    """At the easiest difficulty the generated crops keep more of their contrast than at full difficulty."""
    from plateocr.platemix import training_sampler

    sampler = training_sampler(Path("no-data"), 0.0)

    def contrast(difficulty: float) -> float:
        rng = np.random.default_rng(12)
        crops = [sampler(rng, difficulty)[0] for _ in range(80)]
        return float(np.mean([np.percentile(c, 95) - np.percentile(c, 5) for c in crops]))

    assert contrast(0.25) > contrast(1.0)


def test_levelled_samples_are_the_readers_levelled_views_of_tilted_plates():
    """A plate generated tilted is shown level and filling the crop; a level one is left to the box's views."""
    from plateocr.level import plate_tilt
    from plateocr.platemix import levelled_sample
    from plateocr.plategen import sample_plate

    rng = np.random.default_rng(5)
    for angle in (-22.0, 18.0):
        sample = sample_plate(rng, kind="spanish", layout="es", tilt=angle, crop="tight", effects={"perspective": 0.0})
        assert abs(plate_tilt(sample.image)) > 10
        view = levelled_sample(sample.image, sample.corners, rng)
        assert view is not None and view.shape[1] > 2 * view.shape[0]
        assert abs(plate_tilt(view)) <= 4.5
    level = sample_plate(rng, kind="spanish", layout="es", tilt=0.0, crop="tight", effects={"perspective": 0.0})
    assert levelled_sample(level.image, level.corners, rng) is None


def test_levelled_share_levels_tilted_training_plates_only():
    """With a levelled share of 1 every tilted generated plate is drawn levelled, its text unchanged; a share of 0
    draws exactly the plates it drew before there was a share."""
    from plateocr.platemix import training_sampler

    plain = training_sampler(Path("no-data"), 0.0, families=("truetype",))
    levelled = training_sampler(Path("no-data"), 0.0, families=("truetype",), levelled_share=1.0)
    zero = training_sampler(Path("no-data"), 0.0, families=("truetype",), levelled_share=0.0)
    changed = 0
    for seed in range(30):
        (a, text_a), (b, text_b) = plain(np.random.default_rng(seed)), levelled(np.random.default_rng(seed))
        assert text_a == text_b and np.array_equal(zero(np.random.default_rng(seed))[0], a)
        changed += a.shape != b.shape or not np.array_equal(a, b)
        assert text_a or np.array_equal(a, b)  # a crop with no plate is never levelled
    assert changed >= 5
    with pytest.raises(ValueError, match="levelled share"):
        quick(Path("x.h5"), levelled_share=1.5).validate()


def test_script_trains_and_reports(tmp_path, capsys):
    out = tmp_path / "m" / "plate.h5"
    argv = ["--out", str(out), "--steps", "4", "--batch-size", "8", "--val-samples", "16", "--chars74k-share", "0",
            "--calibration-samples", "0", "-q"]
    assert train_plate.main(argv) == 0
    printed = capsys.readouterr().out
    assert "plates exact" in printed and str(out) in printed
    for suffix in ("_curves.png", "_confusion.png", "_per_class.csv"):
        assert (out.parent / f"plate{suffix}").is_file()
    rows = (out.parent / "plate_per_class.csv").read_text(encoding="utf-8").splitlines()
    assert len(rows) == 1 + len(PLATE_ALPHABET)  # a row per character and the pad


def test_script_rejects_bad_values(tmp_path, capsys):
    assert train_plate.main(["--out", str(tmp_path / "x.h5"), "--steps", "0", "-q"]) == 2
    assert "steps must be >= 1" in capsys.readouterr().err


def test_label_smoothing_is_validated_and_spreads_the_targets(tmp_path, capsys):
    for bad in (-0.1, 0.5):
        with pytest.raises(ValueError, match="label smoothing"):
            quick(tmp_path / "x.h5", label_smoothing=bad).validate()
    assert train_plate.main(["--out", str(tmp_path / "x.h5"), "--label-smoothing", "0.7", "-q"]) == 2
    assert "label smoothing" in capsys.readouterr().err
    from plateocr.platetrain import slot_loss

    classes = len(PLATE_ALPHABET)
    targets = np.array([[3, 7]], np.int32)
    sure = np.full((1, 2, classes), -20.0, np.float32)
    sure[0, [0, 1], [3, 7]] = 20.0  # certain of the right class in both slots
    assert float(slot_loss(classes, 0.0)(targets, sure)) == pytest.approx(0.0, abs=1e-6)
    # Smoothed, certainty costs: the target keeps 1 - s + s / classes on its class and s / classes elsewhere.
    s = 0.1
    expected = (s / classes) * (classes - 1) * 40.0  # cross-entropy against the -20 / +20 logits, per slot
    assert float(slot_loss(classes, s)(targets, sure)) == pytest.approx(expected, rel=1e-3)


def test_reader_reads_every_crop_in_one_batch(tiny_plate_model):
    reader = WholePlateReader(tiny_plate_model)
    rng = np.random.default_rng(0)
    crops = [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for h, w in ((30, 110), (80, 90), (12, 300))]
    readings = reader.read(crops)
    assert len(readings) == 3
    for r in readings:
        assert r.probs.shape == (reader.cfg.slots, len(PLATE_ALPHABET))
        assert np.allclose(r.probs.sum(axis=1), 1.0, atol=1e-5)
        assert 0.0 <= r.confidence <= 1.0 and set(r.text) <= set(PLATE_ALPHABET[:-1])
    assert reader.read([]) == []


def test_missing_plate_model_and_sidecar_are_setup_errors(tmp_path, tiny_plate_model):
    with pytest.raises(SetupError, match="train_plate.py"):
        WholePlateReader(tmp_path / "none.h5")
    lonely = tmp_path / "lonely.h5"
    lonely.write_bytes(tiny_plate_model.read_bytes())
    with pytest.raises(SetupError, match="train_plate.py --export-onnx"):
        WholePlateReader(lonely)  # an older model: the .h5 without its ONNX export
    lonely.with_suffix(".onnx").write_bytes(tiny_plate_model.with_suffix(".onnx").read_bytes())
    with pytest.raises(SetupError, match="no sidecar"):
        WholePlateReader(lonely)


def test_saved_model_loads_again_and_exports_the_same_readings(tmp_path, tiny_plate_model):
    """The .h5 holds the attention head's own layers: loading it back (as --export-onnx does) must give the same model."""
    from plateocr.platetrain import export_saved_plate_model

    copy = tmp_path / "again.h5"
    copy.write_bytes(tiny_plate_model.read_bytes())
    copy.with_suffix(".json").write_bytes(tiny_plate_model.with_suffix(".json").read_bytes())
    record = export_saved_plate_model(copy, samples=8)
    assert record["max_abs_diff"] <= 1e-4
    rng = np.random.default_rng(3)
    crops = [rng.integers(0, 256, (40, 150, 3), dtype=np.uint8) for _ in range(4)]
    before, after = WholePlateReader(tiny_plate_model).read(crops), WholePlateReader(copy).read(crops)
    for a, b in zip(before, after):
        assert a.text == b.text and np.allclose(a.probs, b.probs, atol=1e-5)


def test_the_input_contrast_is_kept_in_the_sidecar_and_read_with(tmp_path, tiny_plate_model):
    # Trained with the local contrast (the script's flag): the sidecar says so and the reader
    # normalises its crops so.
    argv = ["--out", str(tmp_path / "local.h5"), "--steps", "4", "--batch-size", "8", "--val-samples", "16",
            "--chars74k-share", "0", "--calibration-samples", "0", "--contrast", "local", "-q"]
    assert train_plate.main(argv) == 0
    meta = json.loads((tmp_path / "local.json").read_text(encoding="utf-8"))
    assert meta["model"]["contrast"] == "local"
    assert WholePlateReader(tmp_path / "local.h5").cfg.contrast == "local"
    # Both contrasts as two channels: the model's input has two, and its reader feeds it two.
    argv[argv.index("local")], argv[1] = "dual", str(tmp_path / "dual.h5")
    assert train_plate.main(argv) == 0
    dual = WholePlateReader(tmp_path / "dual.h5")
    assert dual.cfg.channels == 2 and dual.model.input_shape[1:] == (dual.cfg.height, dual.cfg.width, 2)
    assert len(dual.read([np.full((30, 110, 3), 200, np.uint8)])) == 1
    # A sidecar written before the choice existed names none: its model was trained on the stretch.
    old = tmp_path / "old.h5"
    for suffix in (".h5", ".onnx"):
        old.with_suffix(suffix).write_bytes(tiny_plate_model.with_suffix(suffix).read_bytes())
    meta = json.loads(tiny_plate_model.with_suffix(".json").read_text(encoding="utf-8"))
    del meta["model"]["contrast"]
    old.with_suffix(".json").write_text(json.dumps(meta), encoding="utf-8")
    assert WholePlateReader(old).cfg.contrast == "stretch"
    meta["model"]["contrast"] = "clahe"
    old.with_suffix(".json").write_text(json.dumps(meta), encoding="utf-8")
    with pytest.raises(SetupError, match="contrast"):
        WholePlateReader(old)


@pytest.mark.parametrize("height,width", [(32, 96), (48, 160)])
def test_model_gives_one_row_of_classes_per_slot_for_any_valid_input(height, width):
    from config import PlateModelConfig
    from plateocr.platetrain import build_plate_model

    cfg = PlateModelConfig(height=height, width=width, slots=9)
    model = build_plate_model(cfg)
    out = model.predict(np.zeros((2, height, width, 1), np.float32), verbose=0)
    assert out.shape == (2, 9, len(PLATE_ALPHABET))


@pytest.mark.parametrize("height,width", [(60, 128), (64, 100)])
def test_input_sizes_the_poolings_cannot_divide_are_refused(height, width):
    from config import PlateModelConfig

    with pytest.raises(ValueError, match="multiple of 16"):
        PlateModelConfig(height=height, width=width).validate()


def test_every_reader_mode_fills_raw_text_and_format(tiny_model, rendered_plate):
    plate, _ = rendered_plate("1234BCD")
    image = np.full((200, 700, 3), 90, np.uint8)
    image[40:150, 90:610] = plate
    for mode in ("chars", "plate", "both"):
        reader = PlateReader(tiny_model, RecognizeConfig(reader=mode))
        verdict, index = reader.read_candidates(image, [PlateCandidate(Box(80, 30, 540, 130), "label")])
        assert verdict.format in FORMATS
        assert (mode == "plate") == (reader.chars is None) and (mode == "chars") == (reader.whole_plate is None)
        if verdict.text:
            assert index == 0 and verdict.format == "spanish" and len(verdict.char_probs) == 7
            assert 0.0 <= verdict.confidence <= 1.0


def test_cli_reader_flag_and_json_fields(tiny_model, tmp_path, rendered_plate):
    import cv2

    images = tmp_path / "in"
    images.mkdir()
    plate, _ = rendered_plate("5678FGH")
    cv2.imwrite(str(images / "5678FGH.png"), plate)
    out = tmp_path / "out.json"
    argv = [str(images), "--reader", "plate", "--output", str(tmp_path / "LR.txt"), "--json", str(out), "-q"]
    assert recognize_plates.main(argv) in (0, 1)
    record = json.loads(out.read_text(encoding="utf-8"))["results"][0]
    assert record["format"] in FORMATS and isinstance(record["raw_text"], str)
    assert recognize_plates.main([*argv, "--plate-model", str(tmp_path / "none.h5")]) == 2


def test_two_row_share_sets_how_many_generated_plates_are_squares():
    """All square at 1, none at 0 (a square's crop is far less wide for its height); unset, the generator's own mix."""
    from plateocr.platemix import training_sampler
    from plateocr.plategen import DEFAULT_CONFIG

    def aspects(share: float | None) -> np.ndarray:
        sampler = training_sampler(Path("no-data"), 0.0, families=("truetype",), two_row_share=share)
        rng = np.random.default_rng(5)
        drawn = [sampler(rng) for _ in range(60)]
        return np.array([image.shape[1] / image.shape[0] for image, text in drawn if text])

    # Measured: medians 1.3 and 2.8 (loose and tilted crops narrow a one-row plate's crop too).
    assert np.median(aspects(1.0)) < 1.6 and np.median(aspects(0.0)) > 2.3
    own = training_sampler(Path("no-data"), 0.0, families=("truetype",))
    same = training_sampler(Path("no-data"), 0.0, families=("truetype",), two_row_share=DEFAULT_CONFIG.two_row_share)
    for seed in range(10):
        assert np.array_equal(own(np.random.default_rng(seed))[0], same(np.random.default_rng(seed))[0])
    with pytest.raises(ValueError, match="two-row share"):
        quick(Path("x.h5"), two_row_share=1.5).validate()


@pytest.mark.parametrize("family", ["classic", "truetype", "stroke"])
def test_min_plate_width_sets_how_small_the_generated_plates_get(family: str):
    """Each family draws narrower crops from a lower bound and wider ones from a higher; unset, its own range."""
    from plateocr.platemix import training_sampler

    def widths(min_width: float | None) -> np.ndarray:
        sampler = training_sampler(Path("no-data"), 0.0, families=(family,), min_width=min_width)
        rng = np.random.default_rng(5)
        return np.array([sampler(rng)[0].shape[1] for _ in range(60)])

    # Measured (80 draws): 10th percentiles 60-63 px at 40, 74-92 unset (60 px plates), 138-154 at 120.
    small, own, large = widths(40.0), widths(None), widths(120.0)
    assert np.percentile(small, 10) < np.percentile(own, 10) - 8 < np.percentile(large, 10) - 40
    assert np.median(small) < np.median(own) < np.median(large)
    with pytest.raises(ValueError, match="minimum plate width"):
        quick(Path("x.h5"), min_plate_width=8.0).validate()


@pytest.mark.parametrize("family", ["classic", "truetype", "stroke"])
def test_max_plate_width_sets_how_large_the_generated_plates_get(family: str):
    """Each family draws its plates narrower under the bound (measured by the crop's width: the plate's, its
    tilt and margins) and still from 60 px up; unset, its own range (up to 260 or 320 px)."""
    from plateocr.platemix import training_sampler

    def widths(max_width: float | None) -> np.ndarray:
        sampler = training_sampler(Path("no-data"), 0.0, families=(family,), max_width=max_width)
        rng = np.random.default_rng(5)
        return np.array([sampler(rng)[0].shape[1] for _ in range(60)])

    capped, own = widths(100.0), widths(None)
    assert np.percentile(own, 90) > 200 and np.percentile(capped, 90) < 180
    assert np.median(capped) < np.median(own) and np.percentile(capped, 10) > 50  # still from 60 px up
    with pytest.raises(ValueError, match="maximum plate width"):
        quick(Path("x.h5"), max_plate_width=50.0).validate()
    with pytest.raises(ValueError, match="maximum plate width"):
        quick(Path("x.h5"), max_plate_width=600.0).validate()


def test_the_script_passes_the_minimum_plate_width_on(tmp_path, capsys):
    assert train_plate.main(["--out", str(tmp_path / "x.h5"), "--min-plate-width", "8", "-q"]) == 2
    assert "minimum plate width must be in [16, 200] px, got 8.0" in capsys.readouterr().err
    assert train_plate.main(["--out", str(tmp_path / "x.h5"), "--min-plate-width", "80", "--max-plate-width", "70", "-q"]) == 2
    assert "maximum plate width must be in [80, 480] px, got 70.0" in capsys.readouterr().err
