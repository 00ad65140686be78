#!/usr/bin/env python3
"""Time the whole-plate generator: milliseconds per ``sample_plate`` call, by family and kind.

Prints figures, asserts nothing::

    .venv/bin/python bench/plategen_bench.py [--count 2000] [--data data] [--seed 0]

Rows: each style family x each kind, then the default mix (what a training loop draws), with and
without the Chars74K glyph bank; then ``sample_scene`` on 416x416 canvases, the bank's load time
and the typical crop sizes. Wall-clock and CPU time are both shown: the CPU is shared.
"""

from __future__ import annotations

import argparse
import functools
import logging
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import config  # noqa: E402
from plateocr.errors import PlateOCRError  # noqa: E402
from plateocr.plategen import KINDS, STYLE_FAMILIES, GlyphBank, PlateSample, sample_plate, sample_scene  # noqa: E402

log = logging.getLogger("plategen_bench")


def timed(draw: Callable[[], object], count: int) -> tuple[float, float, list[object]]:
    """(wall ms, CPU ms) per call over ``count`` calls, after a few warm-up calls (caches), and the results."""
    for _ in range(min(20, count)):
        draw()
    wall, cpu = time.perf_counter(), time.process_time()
    results = [draw() for _ in range(count)]
    return (time.perf_counter() - wall) * 1000 / count, (time.process_time() - cpu) * 1000 / count, results


def main(argv: Sequence[str] | None = None) -> int:
    """CLI: print the table; exit 0, or 2 when fonts or Chars74K are missing."""
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument("--count", type=int, default=2000, help="samples per row")
    parser.add_argument("--data", type=Path, default=config.DATA_DIR, help="data folder holding chars74k/")
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    print(f"cores: {os.cpu_count()}; load average (1, 5, 15 min): {', '.join(f'{v:.2f}' for v in os.getloadavg())}")
    try:
        started = time.perf_counter()
        bank = GlyphBank.load(args.data)
        print(
            f"GlyphBank.load (all of Chars74K GoodImg 0-9A-Z): {time.perf_counter() - started:.1f} s, {len(bank)} masks"
        )
        rng = np.random.default_rng(args.seed)
        print(f"\n{'family':<10} {'kind':<12} {'wall ms':>8} {'CPU ms':>8}")
        for family in STYLE_FAMILIES:
            for kind in KINDS:
                wall, cpu, _ = timed(
                    functools.partial(sample_plate, rng, family=family, kind=kind, glyphs=bank), args.count
                )
                print(f"{family:<10} {kind:<12} {wall:8.2f} {cpu:8.2f}")
        wall, cpu, samples = timed(lambda: sample_plate(rng, glyphs=bank), args.count)
        print(f"{'mixed':<10} {'default':<12} {wall:8.2f} {cpu:8.2f}   (the training mix, with Chars74K)")
        wall, cpu, _ = timed(lambda: sample_plate(rng), args.count)
        print(f"{'mixed':<10} {'default':<12} {wall:8.2f} {cpu:8.2f}   (no glyph bank)")
        wall, cpu, _ = timed(lambda: sample_scene(rng, glyphs=bank), max(1, args.count // 10))
        print(f"{'scene':<10} {'416x416':<12} {wall:8.2f} {cpu:8.2f}")
    except PlateOCRError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    plates: list[PlateSample] = [s for s in samples if isinstance(s, PlateSample)]
    heights = np.array([s.image.shape[0] for s in plates])
    widths = np.array([s.image.shape[1] for s in plates])
    print(
        f"\ncrop sizes over the mix (px): width p5/p50/p95 {np.percentile(widths, [5, 50, 95]).round().astype(int).tolist()}, "
        f"height p5/p50/p95 {np.percentile(heights, [5, 50, 95]).round().astype(int).tolist()}"
    )
    kinds = {kind: sum(s.kind == kind for s in plates) / len(plates) for kind in KINDS}
    c74k = sum("chars74k" in s.tags for s in plates) / max(1, sum(s.kind != "none" for s in plates))
    print(
        "kinds: " + ", ".join(f"{k} {v:.0%}" for k, v in kinds.items()) + f"; plates with Chars74K glyphs: {c74k:.0%}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
