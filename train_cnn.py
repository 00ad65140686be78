#!/usr/bin/env python3
"""Train the character CNN on Chars74K and save it as an ``.h5`` model, its ONNX export and a JSON sidecar."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from config import ARCHITECTURES, TrainConfig
from plateocr.cli import EXIT_OK, EXIT_SETUP, add_verbosity, report_or_warn, setup_logging
from plateocr.errors import PlateOCRError

log = logging.getLogger("train_cnn")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    d = TrainConfig()
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--data", type=Path, default=d.data_dir, help="prepared data folder (see prepare_data.py)")
    p.add_argument("--out", type=Path, default=d.out, help="where to save the .h5 model")
    p.add_argument("--arch", choices=ARCHITECTURES, default=d.arch, help="network architecture")
    p.add_argument("--epochs", type=int, default=d.epochs, help="maximum epochs (early stopping may end sooner)")
    p.add_argument("--batch-size", type=int, default=d.batch_size, help="mini-batch size")
    p.add_argument("--seed", type=int, default=d.seed, help="seed for the split, augmentation and weights")
    p.add_argument("--include-bad", action="store_true", help="also train on Chars74K BadImag")
    p.add_argument("--augment", type=int, default=d.augment_copies, help="augmented copies of each crop")
    p.add_argument("--patience", type=int, default=d.patience, help="early-stopping patience in epochs")
    p.add_argument("--fit", choices=("pad", "stretch"), default=d.preprocess.fit, help="crop-to-square mode")
    p.add_argument("--synthetic", type=int, default=d.synthetic_plates,
                   help="synthetic plates whose segmented characters join the training set")
    p.add_argument("--max-seconds", type=float, default=d.max_seconds, help="wall-clock budget (0: none)")
    p.add_argument("--learning-rate", type=float, default=d.learning_rate, help="Adam learning rate")
    p.add_argument("--limit-per-class", type=int, default=None, help="use at most N images a class")
    p.add_argument("--export-onnx", type=Path, default=None, metavar="MODEL",
                   help="do not train: export an already trained .h5 to the .onnx beside it (what reading loads), "
                        "checked against Keras on Chars74K crops from --data")
    add_verbosity(p)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging(args)
    if args.export_onnx is not None:
        return export_only(args.export_onnx, args.data)
    from dataclasses import replace

    from plateocr.train import train

    d = TrainConfig()
    cfg = TrainConfig(
        data_dir=args.data,
        out=args.out,
        arch=args.arch,
        epochs=args.epochs,
        batch_size=args.batch_size,
        seed=args.seed,
        include_bad=args.include_bad,
        augment_copies=args.augment,
        patience=args.patience,
        max_seconds=args.max_seconds,
        synthetic_plates=args.synthetic,
        learning_rate=args.learning_rate,
        preprocess=replace(d.preprocess, fit=args.fit),
    )
    try:
        cfg.validate()
        result = train(cfg, limit_per_class=args.limit_per_class)
    except (PlateOCRError, ValueError) as exc:
        print(f"train_cnn: error: {exc}", file=sys.stderr)
        return EXIT_SETUP
    from plateocr.onnxrt import onnx_path
    from plateocr.report import write_training_report

    report = report_or_warn("train_cnn", lambda: write_training_report(result))
    worst = sorted(result.per_class_accuracy.items(), key=lambda kv: kv[1])[:5]
    print(f"Validation accuracy (36 classes): {result.val_accuracy:.2%}")
    print("Worst classes: " + ", ".join(f"{c} {a:.0%}" for c, a in worst))
    print(f"Epochs run: {result.epochs_run}, training time: {result.seconds:.0f} s")
    print(f"Saved {result.model_path}, {onnx_path(result.model_path)} and {result.sidecar_path}")
    if report:
        print("Report: " + ", ".join(str(p) for p in report.values()))
    return EXIT_OK


def export_only(model: Path, data: Path) -> int:
    """``--export-onnx``: the ONNX export of a model trained before reading went through ONNX Runtime."""
    from plateocr.onnxrt import onnx_path
    from plateocr.train import export_saved_model

    try:
        record = export_saved_model(model, data)
    except PlateOCRError as exc:
        print(f"train_cnn: error: {exc}", file=sys.stderr)
        return EXIT_SETUP
    print(f"Saved {onnx_path(model)} (max abs difference from Keras: {record['max_abs_diff']:.2g})")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
