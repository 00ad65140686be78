#!/usr/bin/env python3
"""Transfer across style families: train the whole-plate reader on some renderers, test it on every one.

::

    .venv/bin/python bench/plate_transfer.py [--steps 1500] [--count 300] [--workdir DIR]

Trains one model per held-out family (on the two other families) and one on all three, each for
``--steps`` steps (the same seed), then reads ``--count`` held-out Spanish crops of every family
(seed 2027, never trained on) and prints exact-plate accuracy as a table: the diagonal-free cells
are what a renderer we never trained on reads like, the best proxy we have for photos and
generators from elsewhere.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from config import SPANISH_PLATE, PlateTrainConfig  # noqa: E402
from plateocr.platemix import CLASSIC, classic_sample  # noqa: E402

log = logging.getLogger("plate_transfer")
TEST_SEED = 2027


def held_out(family: str, count: int) -> list[tuple[np.ndarray, str]]:
    """``count`` Spanish crops of ``family`` from the test seed."""
    from plateocr.plategen import sample_plate

    rng = np.random.default_rng([TEST_SEED, sum(map(ord, family))])
    if family == CLASSIC:
        return [classic_sample(rng) for _ in range(count)]
    out = []
    for _ in range(count):
        sample = sample_plate(rng, family=family, kind="spanish")
        out.append((sample.image, sample.text))
    return out


def accuracy(model: Path, crops: list[tuple[np.ndarray, str]]) -> tuple[float, float]:
    """Exact open readings, and answers that are right among those read as Spanish plates."""
    from plateocr.platereader import WholePlateReader

    readings = WholePlateReader(model).read([image for image, _ in crops])
    exact = np.mean([r.text == text for r, (_, text) in zip(readings, crops)])
    spanish = [(r.text, text) for r, (_, text) in zip(readings, crops) if SPANISH_PLATE.match(r.text)]
    precision = np.mean([a == b for a, b in spanish]) if spanish else 0.0
    return float(exact), float(precision)


def main(argv: Sequence[str] | None = None) -> int:
    from plateocr.plategen import STYLE_FAMILIES
    from plateocr.platetrain import train_plate_reader

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=1500, help="training steps of each model")
    p.add_argument("--count", type=int, default=300, help="held-out crops per family")
    p.add_argument("--workdir", type=Path, default=None, help="keep (and reuse) the trained models here")
    p.add_argument("--with-all", type=Path, default=None, metavar="MODEL",
                   help="also read the held-out crops with this model trained on every family (e.g. the default)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    families = (CLASSIC, *STYLE_FAMILIES)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="transfer-"))
    tests = {f: held_out(f, args.count) for f in families}
    trained_on = [tuple(g for g in families if g != f) for f in families]
    rows = ["| trained on | " + " | ".join(f"reads {f}" for f in families) + " |", "|---" * (len(families) + 1) + "|"]
    runs = [(t, workdir / f"plate_{'_'.join(t)}.h5") for t in trained_on]
    if args.with_all:
        runs.append((families, args.with_all))
    for train_families, model in runs:
        if not model.is_file():
            cfg = PlateTrainConfig(out=model, steps=args.steps, families=train_families, calibration_samples=0,
                                   max_seconds=0)
            train_plate_reader(cfg)
        cells = []
        for f in families:
            exact, _ = accuracy(model, tests[f])
            cells.append(f"{exact:.1%}" + ("" if f in train_families else " (held out)"))
        rows.append(f"| {' + '.join(train_families)} | " + " | ".join(cells) + " |")
        print(rows[-1], flush=True)
    print(f"\nExact plates on {args.count} held-out Spanish crops per family, {args.steps} steps per model:")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
