#!/usr/bin/env python3
"""Train the corner finder: a small model that finds a plate's four corners in its crop, so that the
whole-plate reader can also read the plate warped square-on (plateocr.corners).

Plates are drawn on the fly by plateocr.plategen with their corners known (every format, both
style families, tilted, in perspective, cropped loose, tight, off-centre or clipped); none is drawn
twice. Saves the .h5, its ONNX export (what reading loads) and a JSON sidecar.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from config import CornerTrainConfig
from plateocr.cli import EXIT_OK, EXIT_SETUP, add_verbosity, setup_logging
from plateocr.errors import PlateOCRError

log = logging.getLogger("train_corners")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    d = CornerTrainConfig()
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--out", type=Path, default=d.out, help="where to save the model (sidecar .json and .onnx beside it)")
    p.add_argument("--steps", type=int, default=d.steps, help="optimiser steps")
    p.add_argument("--batch-size", type=int, default=d.batch_size, help="plates per step")
    p.add_argument("--seed", type=int, default=d.seed, help="seed for the plates drawn and the weights")
    p.add_argument("--learning-rate", type=float, default=d.learning_rate, help="initial Adam learning rate (cosine decay)")
    p.add_argument("--two-row-share", type=float, default=d.two_row_share,
                   help="share of generated plates drawn as two-row squares where their format has one")
    p.add_argument("--val-samples", type=int, default=d.val_samples, help="held-out plates validated on")
    add_verbosity(p)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging(args)
    from plateocr.cornertrain import WITHIN, train_corner_finder

    cfg = CornerTrainConfig(
        out=args.out, steps=args.steps, batch_size=args.batch_size, seed=args.seed, learning_rate=args.learning_rate,
        two_row_share=args.two_row_share, val_samples=args.val_samples,
    )
    try:
        result = train_corner_finder(cfg)
    except (PlateOCRError, ValueError) as exc:
        print(f"train_corners: error: {exc}", file=sys.stderr)
        return EXIT_SETUP
    print(f"Validation: each plate's largest corner error {result.val_mean_error:.3f} of the crop on average; "
          f"{result.val_within:.1%} of plates with every corner within {WITHIN}")
    print(f"Steps: {result.steps}, training time: {result.seconds:.0f} s")
    print(f"Saved {result.model_path} and {result.sidecar_path}")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
