#!/usr/bin/env python3
"""Write the generated test set: synthetic Spanish plates in cluttered scenes, with YOLO labels.

::

    .venv/bin/python bench/testset.py --out data/synthetic_test --count 200 --seed 2026

Writes ``images/<PLATE>.jpg`` (JPEG quality 90) and ``labels/<PLATE>.txt`` (one YOLO line
``0 cx cy w h``, normalised, the plate's axis-aligned box) plus ``manifest.csv`` (how each scene
was drawn). Scenes come from :func:`plateocr.synth.make_scene`: square 416x416 photos like the
test folder's and phone-like 1280x960, 960x1280 and 2000x1500 ones, plates log-uniformly sized
over a realistic range for each canvas, small rotations, about 10% two-row plates, every plate
string unique (a repeated draw is drawn again).

``--subsets`` also writes harder subsets, each to its own folder ``<out>/<subset>/`` (same
``images/``, ``labels/``, ``manifest.csv`` layout), drawn by :func:`plateocr.plategen.sample_scene`
in both style families, without Chars74K glyphs (those are training data):

* ``tilted``: Spanish plates turned 15-30 degrees and seen in perspective, named ``<PLATE>.jpg``;
* ``two_row``: Spanish two-row square plates, named ``<PLATE>.jpg``;
* ``foreign``: French, Italian, German, Portuguese, British, ``NNNN`` + vowels and old Spanish
  provincial plates, named by index (``0001.jpg``), the printed text in the manifest's ``truth``;
* ``none``: photos without a plate (a sign, grille, road or noise patch where one could be),
  named by index, with no label file;
* ``small``: Spanish plates 30-75 px wide (a far car) on the same canvases, named ``<PLATE>.jpg``;
* ``special``: Spanish special series, a letter before ``NNNNAAA`` (a moped's ``C1234BCD``, a trailer's
  ``R...``, historic ``H...``), a kind the whole-plate reader never trains on; named by index, the
  printed text in ``truth``. Not car plates: any answer is a phantom (``1234BCD`` is another vehicle).

Each subset has its own random stream (``[seed, subset number]``), so adding one changes no other.

This set is for testing only, never for training: training renders its synthetic plates in
``plateocr.synthset`` from the training seed (``TrainConfig.seed``, 42 by default); this set uses
its own fixed seed, ``DEFAULT_SEED`` = 2026, and its own random stream. The same seed and count
give byte-identical files on the same machine (same OpenCV, same fonts).
"""

from __future__ import annotations

import argparse
import csv
import logging
import math
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import config  # noqa: E402
from plateocr.plategen import GenConfig, PlateScene, sample_scene  # noqa: E402
from plateocr.synth import Box, Scene, make_scene, random_plate_text  # noqa: E402

log = logging.getLogger("testset")

DEFAULT_SEED = 2026
DEFAULT_COUNT = 200
JPEG_QUALITY = 90
TWO_ROW_FRACTION = 0.1
# Degradation strength of make_scene (its warp turns the plate by up to 10 * strength degrees).
STRENGTH_RANGE = (0.3, 0.8)
# A two-row plate is 280 mm wide against 520 mm for one row, with characters of about the same
# height: its width is the one-row width drawn for the canvas times this ratio.
TWO_ROW_WIDTH_RATIO = 280 / 520


@dataclass(frozen=True)
class Canvas:
    """One kind of photo: its size, how often it is drawn, and the range of plate widths in pixels."""

    height: int
    width: int
    weight: float
    plate_widths: tuple[float, float]


CANVASES: tuple[Canvas, ...] = (
    Canvas(416, 416, 0.45, (60.0, 300.0)),  # the test folder's size
    Canvas(960, 1280, 0.25, (120.0, 600.0)),  # phone, landscape
    Canvas(1280, 960, 0.15, (120.0, 600.0)),  # phone, portrait
    Canvas(1500, 2000, 0.15, (150.0, 700.0)),  # a larger camera
)


@dataclass(frozen=True)
class Drawn:
    """One scene of the set and how it was drawn."""

    scene: Scene
    canvas: Canvas
    plate_width: float
    two_rows: bool
    strength: float


def yolo_label(box: Box, image_width: int, image_height: int) -> str:
    """The YOLO line ``0 cx cy w h`` (normalised to the image) of a pixel box ``(x, y, w, h)``."""
    x, y, w, h = box
    cx, cy = (x + w / 2) / image_width, (y + h / 2) / image_height
    return f"0 {cx:.6f} {cy:.6f} {w / image_width:.6f} {h / image_height:.6f}\n"


def draw_scene(rng: np.random.Generator, text: str) -> Drawn:
    """One scene for ``text``: canvas, plate width, layout and strength all drawn from ``rng``."""
    weights = np.array([c.weight for c in CANVASES])
    canvas = CANVASES[int(rng.choice(len(CANVASES), p=weights / weights.sum()))]
    low, high = canvas.plate_widths
    width = math.exp(rng.uniform(math.log(low), math.log(high)))
    two_rows = bool(rng.uniform() < TWO_ROW_FRACTION)
    if two_rows:
        width *= TWO_ROW_WIDTH_RATIO
    strength = float(rng.uniform(*STRENGTH_RANGE))
    scene = make_scene(
        rng, (canvas.height, canvas.width), plate_width=width, text=text, two_rows=two_rows, strength=strength
    )
    return Drawn(scene, canvas, width, two_rows, strength)


def generate(count: int, seed: int) -> list[Drawn]:
    """``count`` scenes with unique plate strings, drawn from one generator seeded with ``seed``."""
    rng = np.random.default_rng(seed)
    seen: set[str] = set()
    drawn: list[Drawn] = []
    while len(drawn) < count:
        text = random_plate_text(rng)
        if text in seen:
            continue
        seen.add(text)
        drawn.append(draw_scene(rng, text))
    return drawn


def write_testset(out_dir: Path, count: int = DEFAULT_COUNT, seed: int = DEFAULT_SEED) -> Path:
    """Write ``count`` generated scenes under ``out_dir`` (``images/``, ``labels/``, ``manifest.csv``).

    Existing ``images/`` and ``labels/`` folders are replaced, so a smaller set never keeps
    files of a larger one. Returns ``out_dir``.
    """
    if count < 1:
        raise ValueError(f"count must be >= 1, got {count}")
    out_dir = Path(out_dir)
    images, labels = out_dir / "images", out_dir / "labels"
    for folder in (images, labels):
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
    rows = []
    for item in generate(count, seed):
        scene = item.scene
        height, width = scene.image.shape[:2]
        ok, data = cv2.imencode(".jpg", scene.image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
        if not ok:
            raise OSError(f"cannot encode {scene.text} as JPEG")
        (images / f"{scene.text}.jpg").write_bytes(data.tobytes())
        (labels / f"{scene.text}.txt").write_text(yolo_label(scene.plate_box, width, height))
        rows.append({
            "plate": scene.text,
            "canvas": f"{width}x{height}",
            "plate_width": round(item.plate_width, 1),
            "two_rows": int(item.two_rows),
            "strength": round(item.strength, 3),
            "box": " ".join(str(v) for v in scene.plate_box),
        })
    with (out_dir / "manifest.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    log.info("%d scenes written under %s (seed %d)", len(rows), out_dir, seed)
    return out_dir


# --------------------------------------------------------------------------------------------
# Subsets (plateocr.plategen scenes)
# --------------------------------------------------------------------------------------------

# New subsets go last: each draws from its own stream ``[seed, its index + 1]``, so the others stay as they were.
SUBSETS: tuple[str, ...] = ("tilted", "two_row", "foreign", "none", "small", "special")
DEFAULT_SUBSET_COUNT = 120
# Subsets of Spanish plates, whose images are named by their plate.
NAMED_BY_PLATE = ("tilted", "two_row", "small")
SUBSET_TILT = (15.0, 30.0)
# The foreign subset: six foreign formats and old Spanish plates, one seventh each.
FOREIGN_CONFIG = GenConfig(kind_weights={"foreign": 6.0, "spanish_old": 1.0})
# Subset plates stay narrower than the main set's so that a 30-degree turn still fits the canvas.
SUBSET_WIDTH_SHARE = 0.55
# The special subset: Spanish special series (plategen's kind spanish_special, never trained on), this share
# of them two-row squares.
SPECIAL_TWO_ROW_SHARE = 0.15
# The small subset: Spanish plates this many pixels wide (log-uniform) on any canvas, a far car in a photo.
SMALL_PLATE_WIDTH = (30.0, 75.0)


@dataclass(frozen=True)
class SubsetScene:
    """One scene of a subset and how it was drawn."""

    scene: PlateScene
    canvas: Canvas
    plate_width: float


def draw_subset_scene(rng: np.random.Generator, subset: str) -> SubsetScene:
    """One scene of ``subset``: canvas and plate width as in the main set, the rest by the subset."""
    weights = np.array([c.weight for c in CANVASES])
    canvas = CANVASES[int(rng.choice(len(CANVASES), p=weights / weights.sum()))]
    low, high = canvas.plate_widths
    width = min(math.exp(rng.uniform(math.log(low), math.log(high))), SUBSET_WIDTH_SHARE * canvas.width)
    family = ("truetype", "stroke")[int(rng.integers(0, 2))]
    size = (canvas.height, canvas.width)
    if subset == "tilted":
        scene = sample_scene(rng, family=family, layout="es", canvas=size, plate_width=width, tilt=SUBSET_TILT,
                             effects={"perspective": 1.0})
    elif subset == "two_row":
        width *= TWO_ROW_WIDTH_RATIO
        scene = sample_scene(rng, family=family, layout="es_two_rows", canvas=size, plate_width=width)
    elif subset == "foreign":
        scene = sample_scene(rng, family=family, canvas=size, plate_width=width, config=FOREIGN_CONFIG)
    elif subset == "none":
        scene = sample_scene(rng, family=family, kind="none", canvas=size, plate_width=width)
    elif subset == "small":
        width = math.exp(rng.uniform(*np.log(SMALL_PLATE_WIDTH)))
        scene = sample_scene(rng, family=family, layout="es", canvas=size, plate_width=width)
    elif subset == "special":  # a letter before NNNNAAA (a moped's C1234BCD): not a car's plate 1234BCD
        layout = "es_special_two_rows" if rng.uniform() < SPECIAL_TWO_ROW_SHARE else "es_special"
        scene = sample_scene(rng, family=family, layout=layout, canvas=size, plate_width=width)
    else:
        raise ValueError(f"unknown subset {subset!r}; choose from {list(SUBSETS)}")
    return SubsetScene(scene, canvas, width)


def generate_subset(subset: str, count: int, seed: int) -> list[SubsetScene]:
    """``count`` scenes of ``subset`` from the stream ``[seed, subset number]``; Spanish plates unique."""
    rng = np.random.default_rng([seed, SUBSETS.index(subset) + 1])
    seen: set[str] = set()
    drawn: list[SubsetScene] = []
    while len(drawn) < count:
        item = draw_subset_scene(rng, subset)
        named_by_plate = subset in NAMED_BY_PLATE
        if named_by_plate and item.scene.text in seen:
            continue
        seen.add(item.scene.text)
        drawn.append(item)
    return drawn


def write_subset(out_dir: Path, subset: str, count: int = DEFAULT_SUBSET_COUNT, seed: int = DEFAULT_SEED) -> Path:
    """Write ``count`` scenes of ``subset`` under ``out_dir/subset`` (its ``images/`` and ``labels/`` replaced)."""
    if count < 1:
        raise ValueError(f"count must be >= 1, got {count}")
    folder = Path(out_dir) / subset
    images, labels = folder / "images", folder / "labels"
    for sub in (images, labels):
        shutil.rmtree(sub, ignore_errors=True)
        sub.mkdir(parents=True)
    rows = []
    for index, item in enumerate(generate_subset(subset, count, seed), start=1):
        scene = item.scene
        height, width = scene.image.shape[:2]
        stem = scene.text if subset in NAMED_BY_PLATE else f"{index:04d}"
        ok, data = cv2.imencode(".jpg", scene.image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
        if not ok:
            raise OSError(f"cannot encode {subset} scene {stem} as JPEG")
        (images / f"{stem}.jpg").write_bytes(data.tobytes())
        if scene.plate_box is not None:
            (labels / f"{stem}.txt").write_text(yolo_label(scene.plate_box, width, height))
        rows.append({
            "file": f"{stem}.jpg",
            "truth": scene.text,
            "kind": scene.kind,
            "layout": scene.layout,
            "family": scene.family,
            "canvas": f"{width}x{height}",
            "plate_width": round(item.plate_width, 1),
            "tilt": round(scene.tilt, 1),
            "box": "" if scene.plate_box is None else " ".join(str(v) for v in scene.plate_box),
        })
    with (folder / "manifest.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    log.info("%d %s scenes written under %s (seed %d)", len(rows), subset, folder, seed)
    return folder


def main(argv: Sequence[str] | None = None) -> int:
    """CLI: write the set (and the subsets asked for); exit 0, or 2 on a bad flag."""
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=config.DATA_DIR / "synthetic_test", help="output folder")
    parser.add_argument("--count", type=int, default=DEFAULT_COUNT, help="number of scenes (unique plates)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="seed (keep it apart from training seeds)")
    parser.add_argument("--subsets", nargs="*", default=[], choices=[*SUBSETS, "all"], metavar="SUBSET",
                        help=f"also write these subsets, each to <out>/<subset>/: {', '.join(SUBSETS)} or all")
    parser.add_argument("--subset-count", type=int, default=DEFAULT_SUBSET_COUNT, help="scenes per subset")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.count < 1 or args.subset_count < 1:
        parser.error("--count and --subset-count must be >= 1")
    write_testset(args.out, args.count, args.seed)
    for subset in SUBSETS if "all" in args.subsets else [s for s in SUBSETS if s in args.subsets]:
        write_subset(args.out, subset, args.subset_count, args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
