"""Tests of the whole-plate generator (``plateocr.plategen``) and the generated test set's subsets."""

from __future__ import annotations

import csv
import math
import re
import zlib
from pathlib import Path

import numpy as np
import pytest

import config
from bench import testset
from plateocr import plategen
from plateocr.errors import DataError
from plateocr.plategen import (
    LAYOUTS,
    NEGATIVE_LAYOUTS,
    STYLE_FAMILIES,
    GenConfig,
    GlyphBank,
    sample_plate,
    sample_scene,
)
from plateocr.plategen.effects import HEAVY, MAX_HEAVY
from plateocr.plategen.glyphs import MASK_HEIGHT
from plateocr.plategen.texts import SPECIAL_SERIES

ROOT = Path(__file__).resolve().parent.parent
CLEAN = {name: 0.0 for name in plategen.EFFECT_KEYS}


@pytest.fixture(scope="module")
def bank(tmp_path_factory: pytest.TempPathFactory) -> GlyphBank:
    from tests.conftest import write_tiny_chars74k

    return GlyphBank.load(write_tiny_chars74k(tmp_path_factory.mktemp("c74k") / "data", per_class=3))


def _midline_angle(corners: np.ndarray) -> float:
    left, right = (corners[0] + corners[3]) / 2, (corners[1] + corners[2]) / 2
    return math.degrees(math.atan2(right[1] - left[1], right[0] - left[0]))


def _same(a: plategen.PlateSample, b: plategen.PlateSample) -> bool:
    return (
        np.array_equal(a.image, b.image)
        and a.text == b.text
        and a.layout == b.layout
        and np.array_equal(a.corners, b.corners)
        and a.tags == b.tags
    )


def test_same_seed_same_samples_other_seed_other_samples(bank: GlyphBank) -> None:
    first = [sample_plate(np.random.default_rng(11), glyphs=bank) for _ in range(2)]
    rng_a, rng_b = np.random.default_rng(5), np.random.default_rng(5)
    run_a = [sample_plate(rng_a, glyphs=bank) for _ in range(30)]
    run_b = [sample_plate(rng_b, glyphs=bank) for _ in range(30)]
    assert all(_same(a, b) for a, b in zip(run_a, run_b))
    assert _same(first[0], first[1])
    assert not _same(run_a[0], sample_plate(np.random.default_rng(6), glyphs=bank))


@pytest.mark.parametrize("family", STYLE_FAMILIES)
@pytest.mark.parametrize("layout", list(LAYOUTS) + list(NEGATIVE_LAYOUTS))
def test_every_layout_and_family_draws_a_sane_sample(family: str, layout: str, bank: GlyphBank) -> None:
    rng = np.random.default_rng(zlib.crc32(f"{family}:{layout}".encode()))
    for _ in range(4):
        sample = sample_plate(rng, family=family, layout=layout, glyphs=bank)
        height, width = sample.image.shape[:2]
        assert sample.image.dtype == np.uint8 and sample.image.ndim == 3 and sample.image.shape[2] == 3
        assert 8 <= height <= 1000 and 16 <= width <= 1500
        assert sample.family == family and sample.layout == layout
        assert sample.corners.shape == (4, 2) and sample.corners.dtype == np.float32
        if layout in NEGATIVE_LAYOUTS:
            assert sample.kind == "none" and sample.text == "" and not sample.corners.any()
        else:
            assert sample.kind == LAYOUTS[layout].kind
            assert LAYOUTS[layout].pattern.match(sample.text), sample.text
            assert re.fullmatch("[0-9A-Z]+", sample.text)


def test_spanish_texts_are_spanish_plates_and_the_others_are_not() -> None:
    rng = np.random.default_rng(3)
    for _ in range(60):
        sample = sample_plate(rng, effects=CLEAN, plate_width=80.0)
        is_plate = bool(config.SPANISH_PLATE.match(sample.text))
        assert is_plate == (sample.kind == "spanish"), (sample.kind, sample.layout, sample.text)


def test_kind_weights_set_the_balance() -> None:
    rng = np.random.default_rng(4)
    kinds = [sample_plate(rng, effects=CLEAN, plate_width=70.0).kind for _ in range(300)]
    share = kinds.count("spanish") / len(kinds)
    assert 0.5 < share < 0.75
    assert set(kinds) == set(plategen.KINDS)
    only_none = GenConfig(kind_weights={"none": 1.0})
    assert {sample_plate(rng, config=only_none).kind for _ in range(10)} == {"none"}


def test_two_families_really_differ() -> None:
    """Same layout, no perspective: truetype plates are EU-shaped and TrueType-drawn, stroke plates squatter and stroke-drawn."""
    aspects: dict[str, list[float]] = {family: [] for family in STYLE_FAMILIES}
    sources: dict[str, set[str]] = {family: set() for family in STYLE_FAMILIES}
    for family in STYLE_FAMILIES:
        rng = np.random.default_rng(8)
        for _ in range(25):
            sample = sample_plate(rng, family=family, layout="es", effects=CLEAN, tilt=0.0, plate_width=200.0)
            c = sample.corners
            aspects[family].append(
                float(np.linalg.norm(c[1] - c[0]) + np.linalg.norm(c[2] - c[3]))
                / float(np.linalg.norm(c[3] - c[0]) + np.linalg.norm(c[2] - c[1]))
            )
            sources[family] |= {
                tag.split(":")[0] for tag in sample.tags if ":" in tag and tag.split(":")[0] in ("font", "hershey")
            }
    assert min(aspects["truetype"]) > 4.3 and max(aspects["stroke"]) < 4.5
    assert np.median(aspects["truetype"]) - np.median(aspects["stroke"]) > 0.5
    assert sources == {"truetype": {"font"}, "stroke": {"hershey"}}


def test_glyph_bank_loads_chars74k_and_its_glyphs_are_used(bank: GlyphBank, tmp_path: Path) -> None:
    assert set(bank.masks) == set(config.CLASSES)
    mask = bank.masks["A"][0]
    assert mask.dtype == np.uint8 and mask.shape[0] == MASK_HEIGHT and mask.max() > 200
    always = GenConfig(chars74k_share=1.0)
    rng = np.random.default_rng(9)
    samples = [sample_plate(rng, kind="spanish", glyphs=bank, config=always) for _ in range(5)]
    assert all("chars74k" in s.tags for s in samples)
    never = [sample_plate(rng, kind="spanish", config=always) for _ in range(5)]  # no bank, no Chars74K
    assert not any("chars74k" in s.tags for s in never)
    with pytest.raises(DataError):
        GlyphBank.load(tmp_path)


def test_default_chars74k_share_is_about_a_fifth(bank: GlyphBank) -> None:
    rng = np.random.default_rng(10)
    plates = [
        s
        for s in (sample_plate(rng, glyphs=bank, effects=CLEAN, plate_width=70.0) for _ in range(400))
        if s.kind != "none"
    ]
    share = sum("chars74k" in s.tags for s in plates) / len(plates)
    assert 0.12 < share < 0.3


@pytest.mark.parametrize("max_tilt", [5.0, 30.0])
def test_tilt_stays_within_its_bound(max_tilt: float) -> None:
    rng = np.random.default_rng(12)
    angles = [
        abs(
            _midline_angle(
                sample_plate(rng, kind="spanish", max_tilt=max_tilt, effects={"tilt": 1.0, "perspective": 1.0}).corners
            )
        )
        for _ in range(60)
    ]
    assert max(angles) <= max_tilt + 0.1
    assert max(angles) > 0.6 * max_tilt  # the bound is reached, not just respected


def test_a_tilt_range_sets_the_rotation() -> None:
    rng = np.random.default_rng(13)
    for _ in range(20):
        angle = abs(_midline_angle(sample_plate(rng, kind="spanish", tilt=(15.0, 30.0)).corners))
        assert 14.9 <= angle <= 30.1


def test_crops_keep_the_plate_inside_unless_clipped() -> None:
    rng = np.random.default_rng(14)
    for _ in range(20):
        sample = sample_plate(rng, kind="spanish", crop="normal")
        height, width = sample.image.shape[:2]
        assert np.all(sample.corners >= -0.5) and np.all(sample.corners <= [width + 0.5, height + 0.5])
    clipped = [sample_plate(rng, kind="spanish", crop="clipped", effects={"perspective": 0.0}) for _ in range(20)]
    outside = [
        s
        for s in clipped
        if np.any(s.corners < -0.5) or np.any(s.corners > [s.image.shape[1] + 0.5, s.image.shape[0] + 0.5])
    ]
    assert len(outside) == len(clipped)


def test_plate_width_is_the_output_width() -> None:
    rng = np.random.default_rng(15)
    for width in (60.0, 150.0):
        sample = sample_plate(rng, layout="es", plate_width=width, tilt=0.0, effects=CLEAN)
        measured = np.linalg.norm(sample.corners[1] - sample.corners[0])
        assert 0.8 * width < measured < 1.25 * width


def test_bad_arguments_are_refused() -> None:
    rng = np.random.default_rng(0)
    for kwargs in (
        {"family": "nope"},
        {"kind": "nope"},
        {"layout": "nope"},
        {"effects": {"nope": 1.0}},
        {"crop": "nope"},
    ):
        with pytest.raises(ValueError):
            sample_plate(rng, **kwargs)  # type: ignore[arg-type]
    for fields in (
        {"kind_weights": {"spanish": -1.0}},
        {"family_weights": {"other": 1.0}},
        {"two_row_share": 2.0},
        {"plate_width": (5.0, 10.0)},
        {"chars74k_share": -0.1},
        {"strength": (0.5, 0.1)},
    ):
        with pytest.raises(ValueError):
            GenConfig(**fields)  # type: ignore[arg-type]


def test_scene_holds_its_plate_and_none_has_no_box() -> None:
    rng = np.random.default_rng(16)
    for kind in ("spanish", "foreign", "none"):
        scene = sample_scene(rng, kind=kind, canvas=(300, 400), tilt=(15.0, 30.0))
        assert scene.image.shape == (300, 400, 3)
        if kind == "none":
            assert scene.plate_box is None and scene.text == ""
            continue
        x, y, w, h = scene.plate_box
        assert x >= 0 and y >= 0 and x + w <= 400 and y + h <= 300
        assert 15.0 - 0.1 <= abs(_midline_angle(scene.corners)) <= 30.1
    again = sample_scene(np.random.default_rng(17), canvas=(300, 400))
    assert np.array_equal(again.image, sample_scene(np.random.default_rng(17), canvas=(300, 400)).image)


def test_font_packages_match_the_makefile_and_every_font_is_installed() -> None:
    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    match = re.search(r"^PLATEGEN_FONT_PACKAGES := (.+)$", text, re.M)
    assert match, "Makefile has no PLATEGEN_FONT_PACKAGES line"
    assert match.group(1).split() == list(plategen.FONT_PACKAGES)
    assert [path.name for path in plategen.find_fonts()] == list(plategen.FONT_FILES)


def test_subsets_are_written_apart_named_and_labelled(tmp_path: Path) -> None:
    for subset in testset.SUBSETS:
        folder = testset.write_subset(tmp_path, subset, count=3, seed=7)
        assert folder == tmp_path / subset
        with (folder / "manifest.csv").open() as handle:
            rows = list(csv.DictReader(handle))
        images = sorted(p.name for p in (folder / "images").glob("*.jpg"))
        labels = sorted(p.stem for p in (folder / "labels").glob("*.txt"))
        assert images == sorted(row["file"] for row in rows) and len(images) == 3
        if subset == "none":
            assert labels == [] and all(row["truth"] == "" and row["kind"] == "none" for row in rows)
        else:
            assert labels == sorted(Path(name).stem for name in images)
        if subset in testset.NAMED_BY_PLATE:
            assert all(
                config.SPANISH_PLATE.match(row["truth"]) and row["file"] == row["truth"] + ".jpg" for row in rows
            )
        if subset == "tilted":
            assert all(15.0 <= abs(float(row["tilt"])) <= 30.0 for row in rows)
        if subset == "two_row":
            assert {row["layout"] for row in rows} == {"es_two_rows"}
        if subset == "small":
            assert {row["layout"] for row in rows} == {"es"}
            assert all(lo <= float(row["plate_width"]) <= hi for row in rows for lo, hi in [testset.SMALL_PLATE_WIDTH])
        if subset == "foreign":
            assert all(
                row["kind"] in ("foreign", "spanish_old") and not config.SPANISH_PLATE.match(row["truth"])
                for row in rows
            )
        if subset == "special":  # a series letter before a car plate: no Spanish plate, one inside it
            assert all(
                row["kind"] == "spanish_special" and row["truth"][0] in SPECIAL_SERIES
                and config.SPANISH_PLATE.match(row["truth"][1:]) and not config.SPANISH_PLATE.match(row["truth"])
                for row in rows
            )
    again = testset.write_subset(tmp_path / "again", "foreign", count=3, seed=7)
    assert (again / "images" / "0001.jpg").read_bytes() == (tmp_path / "foreign" / "images" / "0001.jpg").read_bytes()


def test_testset_cli_writes_the_subsets_asked_for(tmp_path: Path) -> None:
    assert testset.main(["--out", str(tmp_path), "--count", "2", "--subsets", "none", "--subset-count", "2"]) == 0
    assert (tmp_path / "images").is_dir() and (tmp_path / "none" / "manifest.csv").is_file()
    assert not (tmp_path / "tilted").exists()


@pytest.mark.slow
def test_real_chars74k_bank(shared_data: Path) -> None:
    bank = GlyphBank.load(shared_data)
    assert set(bank.masks) == set(config.CLASSES)
    assert len(bank) > 3000 and min(len(v) for v in bank.masks.values()) >= 10
    rng = np.random.default_rng(18)
    samples = [sample_plate(rng, glyphs=bank, config=GenConfig(chars74k_share=1.0)) for _ in range(100)]
    plates = [s for s in samples if s.kind != "none"]
    assert all("chars74k" in s.tags and LAYOUTS[s.layout].pattern.match(s.text) for s in plates)


def test_at_most_two_heavy_effects_per_crop() -> None:
    rng = np.random.default_rng(19)
    everything = dict.fromkeys(plategen.EFFECT_NAMES, 1.0)
    for _ in range(10):
        sample = sample_plate(rng, kind="spanish", effects=everything)
        assert sum(tag in HEAVY for tag in sample.tags) == MAX_HEAVY
        assert {"cast", "noise", "jpeg"} <= set(sample.tags)


def test_special_series_are_drawn_only_when_asked_for() -> None:
    """The test set's special subset is a kind training never draws: the default weights cannot name it."""
    rng = np.random.default_rng(3)
    kinds = {sample_plate(rng).kind for _ in range(400)}
    assert "spanish_special" not in kinds and {"spanish", "foreign"} <= kinds
    with pytest.raises(ValueError, match="bad kind weights"):
        GenConfig(kind_weights={"spanish_special": 1.0})
