#!/usr/bin/env python3
"""Train the whole-plate reader on synthetic plates generated on the fly and save it with a JSON sidecar.

The model reads a whole plate crop (no character segmentation) into fixed output slots over the
open alphabet 0-9A-Z plus a pad, so it reads foreign and old plates as what they are. Plates are
drawn by plateocr.plategen (two style families, Chars74K glyphs for a share of them); none is
drawn twice.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from config import PLATE_CONTRASTS, PLATE_PRECISIONS, PlateModelConfig, PlateTrainConfig
from plateocr.cli import EXIT_OK, EXIT_SETUP, add_verbosity, report_or_warn, setup_logging
from plateocr.errors import PlateOCRError

log = logging.getLogger("train_plate")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    d = PlateTrainConfig()
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--data", type=Path, default=d.data_dir, help="prepared data folder (Chars74K glyphs)")
    p.add_argument("--out", type=Path, default=d.out, help="where to save the model (sidecar: same name, .json)")
    p.add_argument("--steps", type=int, default=d.steps, help="optimiser steps")
    p.add_argument("--batch-size", type=int, default=d.batch_size, help="plates per step")
    p.add_argument("--seed", type=int, default=d.seed, help="seed for the plates drawn and the weights")
    p.add_argument("--learning-rate", type=float, default=d.learning_rate, help="peak Adam learning rate")
    p.add_argument("--chars74k-share", type=float, default=d.chars74k_share,
                   help="share of plates whose characters are Chars74K glyphs")
    p.add_argument("--curriculum", type=float, default=d.curriculum,
                   help="share of the steps over which the plates go from easy to fully hard (0: hard from the start)")
    p.add_argument("--label-smoothing", type=float, default=d.label_smoothing,
                   help="share of each slot target's probability spread over every class")
    p.add_argument("--levelled-share", type=float, default=d.levelled_share,
                   help="share of generated plates shown levelled, as the reader levels a tilted plate's box")
    p.add_argument("--two-row-share", type=float, default=d.two_row_share,
                   help="share of generated plates drawn as two-row squares where their format has one "
                   "(default: the generator's own)")
    p.add_argument("--min-plate-width", type=float, default=d.min_plate_width,
                   help="narrowest generated plate in pixels (widths drawn log-uniformly from here up)")
    p.add_argument("--max-plate-width", type=float, default=d.max_plate_width,
                   help="widest generated plate in pixels (default: each style family's own, 260 and 320)")
    p.add_argument("--precision", choices=PLATE_PRECISIONS, default=d.precision,
                   help="arithmetic of the training steps (the saved model is float32 either way)")
    p.add_argument("--contrast", choices=PLATE_CONTRASTS, default=d.model.contrast,
                   help="how the model's input levels are normalised: the crop's percentiles (stretch), each "
                   "pixel against its neighbourhood (local) or both as two channels (dual)")
    p.add_argument("--val-samples", type=int, default=d.val_samples, help="held-out plates validated on")
    p.add_argument("--chars-model", type=Path, default=d.chars_model,
                   help="Chars74K model used to calibrate the 'chars' and 'both' reader modes (skipped if missing)")
    p.add_argument("--calibration-samples", type=int, default=d.calibration_samples,
                   help="held-out plates read to calibrate the confidence (0: no calibration)")
    p.add_argument("--max-seconds", type=float, default=d.max_seconds,
                   help="stop after the epoch that passes this wall time (0: none; the model then depends "
                   "on the machine's speed)")
    p.add_argument("--export-onnx", type=Path, metavar="MODEL",
                   help="train nothing: export an already trained model to ONNX beside it (what reading loads)")
    p.add_argument("--calibrate", type=Path, metavar="MODEL",
                   help="train nothing: calibrate an already trained model's confidence again (e.g. after the "
                   "Chars74K model was retrained), with --chars-model, --calibration-samples and --seed")
    add_verbosity(p)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging(args)
    from plateocr.platetrain import calibrate_saved, export_saved_plate_model, train_plate_reader

    if args.export_onnx is not None:
        try:
            record = export_saved_plate_model(args.export_onnx)
        except (PlateOCRError, ValueError) as exc:
            print(f"train_plate: error: {exc}", file=sys.stderr)
            return EXIT_SETUP
        print(f"Exported {args.export_onnx.with_suffix('.onnx')} (max abs difference from Keras {record['max_abs_diff']:.2g})")
        return EXIT_OK
    cfg = PlateTrainConfig(
        data_dir=args.data, out=args.calibrate or args.out, steps=args.steps, batch_size=args.batch_size, seed=args.seed,
        learning_rate=args.learning_rate, chars74k_share=args.chars74k_share, val_samples=args.val_samples,
        curriculum=args.curriculum, label_smoothing=args.label_smoothing, levelled_share=args.levelled_share,
        two_row_share=args.two_row_share, min_plate_width=args.min_plate_width,
        max_plate_width=args.max_plate_width, precision=args.precision,
        max_seconds=args.max_seconds, chars_model=args.chars_model, calibration_samples=args.calibration_samples,
        model=PlateModelConfig(contrast=args.contrast),
    )
    try:
        cfg.validate()
        if args.calibrate is not None:
            for mode, fit in calibrate_saved(cfg).items():
                print(f"Calibration of '{mode}': P(right) = sigmoid({fit['a']:.3f} * logit(raw) + {fit['b']:.3f})")
            return EXIT_OK
        result = train_plate_reader(cfg)
    except (PlateOCRError, ValueError) as exc:
        print(f"train_plate: error: {exc}", file=sys.stderr)
        return EXIT_SETUP
    from plateocr.report import write_plate_report

    report = report_or_warn("train_plate", lambda: write_plate_report(result))
    print(f"Validation: {result.val_plate_accuracy:.2%} plates exact, {result.val_char_accuracy:.2%} slots")
    print(f"Steps: {result.steps}, training time: {result.seconds:.0f} s, temperature {result.temperature:.2f}")
    print(f"Saved {result.model_path} and {result.sidecar_path}")
    if report:
        print("Report: " + ", ".join(str(p) for p in report.values()))
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
