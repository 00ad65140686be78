#!/usr/bin/env python3
"""How far the readings can be trusted: hits, phantoms, precision/recall and calibration, per reader mode.

::

    .venv/bin/python bench/trust.py [--model M] [--plate-model P] [--testset data/synthetic_test] [--docs docs]

Reads, with and without labels, every set there is:

- ``test6`` (the 21 Spanish photos of test6Training) and ``test6_other`` (its 96 other photos:
  any answer there is a phantom);
- the generated test set (``bench/testset.py``, seed 2026, never trained on): ``generated``
  (``make_scene``, the character trainer's renderer) and its subsets ``tilted``, ``two_row``
  (plategen, Spanish), ``foreign`` and ``none`` (any answer is a phantom), ``small`` (Spanish
  plates 30-75 px wide) and ``special`` (Spanish special series such as a moped's ``C1234BCD``: any
  answer is a phantom).

Each image is read once with both readers; the three reader modes (``chars``, ``plate``,
``both``) are then decided from that same evidence, each with its own calibration, exactly as
``PlateReader.read_candidates`` decides. Prints one table (answered right / wrong per set, at the
default ``--min-confidence``), then precision and recall at the default threshold, and writes the
precision-recall curve and the reliability diagram of every mode to ``docs/`` as PNG.
"""

from __future__ import annotations

import argparse
import csv
import logging
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from config import READERS, SPANISH_PLATE, RecognizeConfig  # noqa: E402
from plateocr.calibrate import expected_calibration_error, reliability  # noqa: E402
from plateocr.imageio import read_image  # noqa: E402
from plateocr.platereader import load_calibration  # noqa: E402
from plateocr.recognize import PlateReader, decide  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from testset import SUBSETS  # noqa: E402 - bench/testset.py writes them (``bench`` is bench/bench.py)

log = logging.getLogger("trust")


@dataclass(frozen=True)
class Item:
    """One image to read: its set, its truth ("" where no Spanish plate is shown) and its label folder."""

    set: str
    path: Path
    truth: str
    labels: Path


@dataclass(frozen=True)
class Outcome:
    """One image read by one mode."""

    set: str
    mode: str
    labels: bool
    truth: str
    text: str
    confidence: float
    format: str


def collect(data: Path, testset: Path) -> list[Item]:
    """Every image of every set that exists."""
    items: list[Item] = []
    test6 = data / "test6Training"
    for path in sorted((test6 / "images").glob("*.jpg")):
        spanish = bool(SPANISH_PLATE.match(path.stem))
        items.append(Item("test6" if spanish else "test6_other", path, path.stem if spanish else "", test6 / "labels"))
    if (testset / "images").is_dir():
        items += [Item("generated", p, p.stem, testset / "labels") for p in sorted((testset / "images").glob("*.jpg"))]
    for subset in SUBSETS:
        manifest = testset / subset / "manifest.csv"
        if not manifest.is_file():
            log.warning("%s: missing; write it with bench/testset.py --subsets all", manifest)
            continue
        with manifest.open(newline="") as fh:
            for row in csv.DictReader(fh):
                truth = row["truth"] if SPANISH_PLATE.match(row["truth"]) else ""
                items.append(Item(subset, testset / subset / "images" / row["file"], truth, testset / subset / "labels"))
    return items


def read_all(reader: PlateReader, items: Sequence[Item], with_labels: bool) -> list[Outcome]:
    """Each image read once with both readers, decided by every mode."""
    calibrations = {mode: load_calibration(reader.cfg.plate_model, mode) for mode in READERS}
    out: list[Outcome] = []
    for item in items:
        image = read_image(item.path)
        candidates = reader.candidates(image, item.path, item.labels if with_labels else None)
        chars, plates = reader.evidence(image, candidates)
        priors = [c.prior for c in candidates]
        for mode in READERS:
            verdict, _ = decide(chars, plates, priors, mode, calibrations[mode], [c.tightens for c in candidates])
            out.append(Outcome(item.set, mode, with_labels, item.truth, verdict.text, verdict.confidence, verdict.format))
    return out


def table(outcomes: Sequence[Outcome], threshold: float) -> list[str]:
    """Markdown rows: per set, labels and mode, the right and wrong answers at ``threshold``."""
    rows = ["| set | labels | mode | images | right | wrong (phantoms) | empty |", "|---|---|---|---|---|---|---|"]
    keys = sorted({(o.set, o.labels, o.mode) for o in outcomes}, key=lambda k: (SET_ORDER.get(k[0], 9), not k[1], k[2]))
    for name, labels, mode in keys:
        group = [o for o in outcomes if (o.set, o.labels, o.mode) == (name, labels, mode)]
        answered = [o for o in group if o.text and o.confidence >= threshold]
        right = sum(o.text == o.truth for o in answered)
        rows.append(
            f"| {name} | {'yes' if labels else 'no'} | {mode} | {len(group)} | {right} | {len(answered) - right} "
            f"| {len(group) - len(answered)} |"
        )
    return rows


SET_ORDER = {name: i for i, name in enumerate(("test6", "test6_other", "generated", *SUBSETS))}


def pr_points(outcomes: Sequence[Outcome]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Thresholds, precision and recall (over every Spanish plate shown) as the threshold rises."""
    plates = sum(1 for o in outcomes if o.truth)
    answered = sorted((o for o in outcomes if o.text), key=lambda o: -o.confidence)
    right = np.cumsum([o.text == o.truth for o in answered])
    count = np.arange(1, len(answered) + 1)
    return np.array([o.confidence for o in answered]), right / np.maximum(count, 1), right / max(plates, 1)


def at_threshold(outcomes: Sequence[Outcome], threshold: float) -> tuple[float, float, int]:
    """Precision, recall and the number of answers at ``threshold``."""
    answered = [o for o in outcomes if o.text and o.confidence >= threshold]
    right = sum(o.text == o.truth for o in answered)
    plates = sum(1 for o in outcomes if o.truth)
    return right / max(len(answered), 1), right / max(plates, 1), len(answered)


def figures(outcomes: Sequence[Outcome], threshold: float, docs: Path) -> list[Path]:
    """The precision-recall curves and reliability diagrams of every mode, as two PNGs in ``docs``."""
    from matplotlib.figure import Figure

    from plateocr.report import save_figure

    pr = Figure(figsize=(6, 4.2), dpi=100, layout="constrained")
    ax = pr.subplots()
    rel = Figure(figsize=(6, 4.2), dpi=100, layout="constrained")
    bx = rel.subplots()
    bx.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1, label="perfect calibration")
    for mode in READERS:
        mine = [o for o in outcomes if o.mode == mode]
        _, precision, recall = pr_points(mine)
        p, r, _ = at_threshold(mine, threshold)
        line = ax.plot(recall, precision, label=mode)[0]
        ax.plot([r], [p], marker="o", color=line.get_color())
        answered = [o for o in mine if o.text]
        conf = np.array([o.confidence for o in answered])
        ok = np.array([o.text == o.truth for o in answered])
        bins = reliability(conf, ok)
        ece = expected_calibration_error(conf, ok)
        bx.plot([c for c, _, _ in bins], [a for _, a, _ in bins], marker="o", label=f"{mode} (ECE {ece:.3f})")
    ax.set_xlabel("recall (Spanish plates read right / shown)")
    ax.set_ylabel("precision (right / answered)")
    ax.set_title(f"every set, with and without labels; dots: default threshold {threshold}")
    ax.grid(alpha=0.3)
    ax.legend()
    bx.set_xlabel("confidence")
    bx.set_ylabel("share of answers that are right")
    bx.set_title("reliability of the answers (10 bins)")
    bx.grid(alpha=0.3)
    bx.legend()
    paths = [docs / "trust_precision_recall.png", docs / "trust_reliability.png"]
    save_figure(paths[0], pr)
    save_figure(paths[1], rel)
    return paths


def main(argv: Sequence[str] | None = None) -> int:
    rc = RecognizeConfig()
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", type=Path, default=rc.model, help="Chars74K model")
    p.add_argument("--plate-model", type=Path, default=rc.plate_model, help="whole-plate reader model")
    p.add_argument("--data", type=Path, default=ROOT / "data", help="prepared data folder (test6Training)")
    p.add_argument("--testset", type=Path, default=ROOT / "data" / "synthetic_test", help="generated test set")
    p.add_argument("--docs", type=Path, default=ROOT / "docs", help="where the figures go")
    p.add_argument("--limit", type=int, default=0, help="at most N images a set (0: all)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    reader = PlateReader(args.model, replace(rc, plate_model=args.plate_model, reader="both"))
    items = collect(args.data, args.testset)
    if args.limit:
        items = [it for name in SET_ORDER for it in [i for i in items if i.set == name][: args.limit]]
    started = time.perf_counter()
    outcomes = read_all(reader, items, True) + read_all(reader, items, False)
    log.info("%d images read twice in %.0f s", len(items), time.perf_counter() - started)
    threshold = rc.min_confidence
    print("\n".join(table(outcomes, threshold)))
    print()
    for mode in READERS:
        for labels in (True, False):
            mine = [o for o in outcomes if o.mode == mode and o.labels == labels]
            precision, recall, answers = at_threshold(mine, threshold)
            print(f"{mode:5s} labels={'yes' if labels else 'no ':3s} threshold {threshold}: precision {precision:.1%}, "
                  f"recall {recall:.1%} ({answers} answers)")
    print("\nEvery set, with and without labels, by threshold (precision = right / answered; phantoms: answers on")
    print("photos with no Spanish plate, test6_other + foreign + none + special):\n")
    print("| mode | threshold | precision | recall | phantoms |")
    print("|---|---|---|---|---|")
    for mode in READERS:
        mine = [o for o in outcomes if o.mode == mode]
        for t in sorted({0.0, 0.3, 0.5, 0.7, 0.9, threshold}):
            precision, recall, _ = at_threshold(mine, t)
            phantoms = sum(1 for o in mine if not o.truth and o.text and o.confidence >= t)
            print(f"| {mode} | {t:.1f} | {precision:.1%} | {recall:.1%} | {phantoms} |")
    for path in figures(outcomes, threshold, args.docs):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
