"""Benchmark the plate localiser: recall against YOLO plate labels, and time per image.

Prints figures, asserts nothing::

    PYTHONPATH=. .venv/bin/python bench/localize_bench.py [--data DIR] [--scenes N] [--perturbed [KINDS]] [--verbose]

Recall counts a label box as found when a candidate overlaps it with IoU >= 0.5, in the top 1
and within the top 5, on test6Training, on the generated test set (``bench/testset.py``: level
scenes, and its tilted and two-row subsets) when it exists, and on scenes drawn here. Images
whose name is a Spanish plate (``config.SPANISH_PLATE``) are reported apart from the others.
With ``--perturbed``, also test6's Spanish photos perturbed as ``bench/perturbed.py`` perturbs them (turned,
in perspective, small, blurred, compressed, under casts, motion blur, hard shadows), kind by kind.
Timing: median wall-clock and CPU time over the labelled images, and over synthetic scenes from
``plateocr.synth`` (416x416 with 40-200 px plates, 4000x3000 with 150-600 px plates; the localiser
works on a copy at most 1280 px long, so plates narrower than about 3.5% of the long side are out
of its reach).
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

import config
from plateocr.localize import find_plate_candidates, iou
from plateocr.synth import make_scene

logger = logging.getLogger("localize_bench")

MATCH_IOU = 0.5
TOP_K = 5
# Synthetic benchmark sets: canvas (height, width) and the range of plate widths in pixels.
SCENE_SETS = (((416, 416), (40.0, 200.0)), ((3000, 4000), (150.0, 600.0)))


@dataclass
class Tally:
    """Recall counters for one group of images."""

    plates: int = 0
    top1: int = 0
    top5: int = 0
    best_ious: list[float] = field(default_factory=list)

    def line(self, name: str) -> str:
        if not self.plates:
            return f"{name}: no plates"
        median = statistics.median(self.best_ious)
        top1, top5, plates = self.top1, self.top5, self.plates
        return (
            f"{name}: {plates} plates, top-1 recall {top1}/{plates} ({top1 / plates:.0%}), "
            f"top-5 recall {top5}/{plates} ({top5 / plates:.0%}), median best IoU {median:.2f}"
        )


def read_plate_boxes(label_path: Path, width: int, height: int) -> list[tuple[int, int, int, int]]:
    """Class-0 YOLO boxes of a label file, in pixels of a ``width`` x ``height`` image."""
    boxes = []
    for line in label_path.read_text().splitlines():
        fields = line.split()
        if len(fields) == 5 and fields[0] == "0":
            cx, cy, w, h = (float(v) for v in fields[1:])
            x0, y0 = round((cx - w / 2) * width), round((cy - h / 2) * height)
            boxes.append((x0, y0, round(w * width), round(h * height)))
    return boxes


def score_image(candidates: Sequence[tuple[int, int, int, int]], truths: Sequence[tuple[int, int, int, int]],
                tally: Tally) -> list[float]:
    """Add one image's plates to ``tally``; returns each plate's best IoU within the top 5."""
    bests = []
    for truth in truths:
        overlaps = [iou(box, truth) for box in candidates[:TOP_K]]
        best = max(overlaps, default=0.0)
        tally.plates += 1
        tally.top1 += bool(overlaps) and overlaps[0] >= MATCH_IOU
        tally.top5 += best >= MATCH_IOU
        tally.best_ious.append(best)
        bests.append(best)
    return bests


@dataclass
class Timer:
    """Wall-clock and CPU seconds per call (the CPU figure is steadier on a shared machine)."""

    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    def run(self, image: np.ndarray) -> list[tuple[int, int, int, int]]:
        wall, cpu = time.perf_counter(), time.process_time()
        candidates = find_plate_candidates(image, TOP_K)
        self.wall.append(time.perf_counter() - wall)
        self.cpu.append(time.process_time() - cpu)
        logger.debug("candidates %s", [(c.box, round(c.score, 2), c.source) for c in candidates])
        return [c.box for c in candidates]

    def line(self, name: str) -> str:
        wall, cpu = statistics.median(self.wall), statistics.median(self.cpu)
        return (
            f"{name}: median {wall:.3f} s wall ({cpu:.3f} s CPU), "
            f"max {max(self.wall):.3f} s wall per image, {len(self.wall)} images"
        )


def bench_labelled(data_dir: Path) -> tuple[Tally, Tally, Timer]:
    """Recall on Spanish-named and other images, and the time per image."""
    spanish, others, timer = Tally(), Tally(), Timer()
    for image_path in sorted((data_dir / "images").glob("*.jpg")):
        label_path = data_dir / "labels" / f"{image_path.stem}.txt"
        image = cv2.imread(str(image_path))
        if image is None or not label_path.exists():
            logger.warning("skipping %s", image_path.name)
            continue
        truths = read_plate_boxes(label_path, image.shape[1], image.shape[0])
        is_spanish = bool(config.SPANISH_PLATE.match(image_path.stem))
        logger.debug("%s %s truths=%s", "ES" if is_spanish else "--", image_path.stem, truths)
        bests = score_image(timer.run(image), truths, spanish if is_spanish else others)
        logger.debug("best IoU %s", [round(b, 2) for b in bests])
    return spanish, others, timer


def bench_scenes(
    count: int, seed: int, canvas: tuple[int, int], widths: tuple[float, float]
) -> tuple[Tally, Timer]:
    """Recall and time on synthetic scenes of ``canvas`` (h, w), plate widths log-uniform in ``widths``."""
    rng = np.random.default_rng(seed)
    tally, timer = Tally(), Timer()
    for _ in range(count):
        width = float(np.exp(rng.uniform(np.log(widths[0]), np.log(widths[1]))))
        scene = make_scene(rng, canvas, plate_width=width, two_rows=bool(rng.uniform() < 0.15))
        score_image(timer.run(scene.image), [scene.plate_box], tally)
    return tally, timer


def bench_perturbed(data_root: Path, kinds: Sequence[str] | None = None) -> list[tuple[str, Tally]]:
    """Recall on test6's Spanish photos perturbed as ``bench/perturbed.py`` perturbs them, kind by kind
    (``kinds``; None: all), the plate's box carried through the perturbation being the truth."""
    from perturbed import ALL_KINDS, spanish_photos  # bench/perturbed.py (run as a script, ``bench`` is bench/bench.py)

    kinds = list(ALL_KINDS) if kinds is None else kinds
    unknown = sorted(set(kinds) - set(ALL_KINDS))
    if unknown:
        raise SystemExit(f"unknown perturbations {unknown}; choose from {sorted(ALL_KINDS)}")
    photos = list(spanish_photos(data_root))
    tallies = []
    for kind in kinds:
        tally, timer = Tally(), Timer()
        for _, photo, box in photos:
            image, plate = ALL_KINDS[kind](photo, box)
            score_image(timer.run(image), [plate.as_tuple()], tally)
        tallies.append((kind, tally))
    return tallies


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=config.DEFAULT_MIRROR / "test6Training",
                        help="folder with images/ and labels/ (YOLO)")
    parser.add_argument("--testset", type=Path, default=config.ROOT / "data" / "synthetic_test",
                        help="generated test set (bench/testset.py): its level scenes and tilted, two-row subsets")
    parser.add_argument("--scenes", type=int, default=20, help="synthetic scenes per canvas size (0: none)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the synthetic scenes")
    parser.add_argument("--perturbed", nargs="?", const="all", metavar="KINDS",
                        help="also test6's Spanish photos perturbed (bench/perturbed.py's kinds, comma-separated; "
                             "all when none given): the plate's top-1 and top-5 recall, kind by kind")
    parser.add_argument("--verbose", action="store_true", help="log every image's candidates")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(message)s")
    logging.getLogger("plateocr").setLevel(logging.INFO)

    if (args.data / "images").is_dir():
        spanish, others, timer = bench_labelled(args.data)
        print(spanish.line("Spanish-named images"))
        print(others.line("other images"))
        print(timer.line("labelled images"))
    else:
        print(f"no labelled images under {args.data}")
    for name, folder in (
        ("generated", args.testset),
        ("generated tilted", args.testset / "tilted"),
        ("generated two_row", args.testset / "two_row"),
    ):
        if (folder / "images").is_dir():
            spanish, _, timer = bench_labelled(folder)
            print(spanish.line(f"{name} scenes"))
            print(timer.line(f"{name} scenes"))
    if args.perturbed and (args.data / "images").is_dir():
        tallies = bench_perturbed(args.data.parent, None if args.perturbed == "all" else args.perturbed.split(","))
        for kind, tally in tallies:
            print(tally.line(f"perturbed {kind}"))
        total = Tally(
            plates=sum(t.plates for _, t in tallies), top1=sum(t.top1 for _, t in tallies),
            top5=sum(t.top5 for _, t in tallies), best_ious=[v for _, t in tallies for v in t.best_ious],
        )
        print(total.line(f"perturbed, {len(tallies)} kinds"))
    for canvas, widths in SCENE_SETS if args.scenes > 0 else ():
        name = f"synthetic {canvas[1]}x{canvas[0]} scenes, plates {widths[0]:.0f}-{widths[1]:.0f} px"
        tally, timer = bench_scenes(args.scenes, args.seed, canvas, widths)
        print(tally.line(name))
        print(timer.line(name))
    return 0


if __name__ == "__main__":
    sys.exit(main())
