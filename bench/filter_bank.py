#!/usr/bin/env python3
"""How the default filter bank (``RecognizeConfig.filters``) was chosen: backward elimination on a
generated validation set that neither training nor any test uses.

::

    .venv/bin/python bench/filter_bank.py --model models/chars74k_cnn.h5 [--count 300] [--seed 7]

The validation scenes come from ``bench/testset.py``'s generator with their own seed (7 by default;
the test set uses 2026, training 42) and are written to ``--out``. Every image is read once with and
once without its label, with all the filters of ``plateocr.filters.FILTERS`` in every view, and each
variant's decoding is kept; any smaller bank is then scored offline exactly as the reader chooses
(``plateocr.charreader.best_candidate``). Backward elimination drops, one at a time, the filter whose
removal costs the fewest plates (ties: the later in ``FILTERS``) and prints the path. Figures only.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import config  # noqa: E402
from plateocr.decode import Decoded  # noqa: E402
from plateocr.filters import FILTERS  # noqa: E402
from plateocr.plates import crop  # noqa: E402

# One image read one way: (mode, true plate, per candidate (prior, the box it tightens, per variant decoding)).
Reading = tuple[str, str, list[tuple[float, int, list[Decoded | None]]]]
MODES = ("labels", "no labels")


def collect(model: Path, folder: Path) -> list[Reading]:
    """Every variant's decoding, all filters in every view, for each image with and without labels."""
    from plateocr.imageio import read_image
    from plateocr.recognize import PlateReader

    reader = PlateReader(model, config.RecognizeConfig(filters=tuple(FILTERS), reader="chars"))
    images = sorted((folder / "images").glob("*.jpg"))
    out: list[Reading] = []
    for mode in MODES:
        labels = folder / "labels" if mode == "labels" else None
        for path in images:
            image = read_image(path)
            candidates = reader.candidates(image, path, labels)
            decoded = reader.chars.decode_variants([crop(image, c.box) for c in candidates]) if candidates else []
            out.append((mode, path.stem, [(c.prior, c.tightens, d) for c, d in zip(candidates, decoded, strict=True)]))
    return out


def texts(readings: Sequence[Reading], bank: Sequence[str]) -> list[str]:
    """What the reader with filter bank ``bank`` reads for each reading (its variants picked from the full bank's)."""
    from plateocr.charreader import best_candidate

    names = list(FILTERS)
    keep = {names.index(n) for n in bank}
    out = []
    for _, _, candidates in readings:
        decoded = [[d for k, d in enumerate(variants) if k % len(names) in keep] for _, _, variants in candidates]
        priors, tightens = [prior for prior, _, _ in candidates], [parent for _, parent, _ in candidates]
        out.append(best_candidate(decoded, priors, tightens)[0].text)
    return out


def hits(readings: Sequence[Reading], bank: Sequence[str]) -> dict[str, int]:
    """Plates read right per mode by the bank ``bank``."""
    counts = dict.fromkeys(MODES, 0)
    for (mode, truth, _), text in zip(readings, texts(readings, bank), strict=True):
        counts[mode] += text == truth
    return counts


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", type=Path, default=config.RecognizeConfig().model, help="trained model")
    p.add_argument("--out", type=Path, default=config.DATA_DIR / "synthetic_val", help="validation set folder")
    p.add_argument("--count", type=int, default=300, help="validation scenes (default: %(default)s)")
    p.add_argument("--seed", type=int, default=7, help="their seed; never the test set's 2026 (default: %(default)s)")
    args = p.parse_args(argv)
    if args.seed == 2026:
        p.error("--seed 2026 is the test set's seed: choose a bank on other data")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from testset import write_testset  # bench/testset.py (run as a script, ``bench`` is bench/bench.py)

    if not (args.out / "manifest.csv").is_file():
        write_testset(args.out, args.count, args.seed)
    started = time.perf_counter()
    readings = collect(args.model, args.out)
    total = len(readings) // len(MODES)
    print(f"{total} validation scenes ({args.out}), read in {time.perf_counter() - started:.0f} s")

    def line(label: str, bank: Sequence[str]) -> None:
        h = hits(readings, bank)
        print(f"{label:<24} {len(bank):>2} filters  labels {h['labels']}/{total}  no labels {h['no labels']}/{total}")

    line("all filters", list(FILTERS))
    line("default bank", config.RecognizeConfig().filters)
    bank = list(FILTERS)
    while len(bank) > 1:
        scored = [(sum(hits(readings, [g for g in bank if g != f]).values()), i, f) for i, f in enumerate(bank)]
        _, _, dropped = max(scored)
        bank.remove(dropped)
        line(f"drop {dropped}", bank)
    return 0


if __name__ == "__main__":
    sys.exit(main())
