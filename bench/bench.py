#!/usr/bin/env python3
"""Benchmark figures (printed, never asserted): hits, time per plate, training cost, batching gain.

Run through ``make bench``. It trains the default architecture and the original
``seed`` network (batch 4, the original schedule cut to the same wall time) in
child processes, so wall time and peak RSS are measured per training run.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from config import RecognizeConfig, TrainConfig  # noqa: E402


def train_child(out: Path, extra: list[str]) -> tuple[float, float]:
    """Run train_cnn.py in a child process; return (wall seconds, child peak RSS in MiB)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    cmd = [sys.executable, str(ROOT / "train_cnn.py"), "--out", str(out), "-q", *extra]
    subprocess.run(cmd, check=True, cwd=ROOT, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return seconds, max(peak, before) / 1024.0


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def read_plates(model: Path, images: Path, labels: Path) -> dict[str, float]:
    """Hits and per-plate timing of the full pipeline (filter bank, one model call per image)."""
    from plateocr.recognize import PlateReader, count_hits, list_images, recognize_folder

    reader = PlateReader(model)
    files = list_images(images, include_all=False)
    reader.read_image(files[0], labels)  # warm-up: graph tracing is not per-plate work
    results = recognize_folder(reader, files, labels)
    times = [r.seconds for r in results]
    return {
        "hits": count_hits(results),
        "plates": len(results),
        "median_s": statistics.median(times),
        "p90_s": percentile(times, 0.9),
    }


def batching_gain(model: Path, images: Path, labels: Path) -> tuple[float, float, int]:
    """Seconds for all crops of the 21 plates: one call per image vs one ``predict`` per character."""
    from plateocr.filters import FILTERS
    from plateocr.imageio import read_image
    from plateocr.preprocess import preprocess_batch
    from plateocr.recognize import PlateReader, character_crops, list_images, normalise_plate
    from plateocr.plates import crop
    from plateocr.segment import segment_characters

    reader = PlateReader(model)
    per_image: list[list] = []
    for path in list_images(images, include_all=False):
        image = read_image(path)
        crops = []
        for cand in reader.candidates(image, path, labels):
            plate = normalise_plate(crop(image, cand.box), reader.cfg.plate_height)
            for f in FILTERS.values():
                filtered = f(plate)
                crops += character_crops(filtered, segment_characters(filtered))
        per_image.append(crops)
    arrays = [preprocess_batch(c, reader.preprocess) for c in per_image]
    reader.predict(arrays[0])
    reader.model.predict(arrays[0][:1], verbose=0)
    started = time.perf_counter()
    for x in arrays:
        reader.predict(x)
    batched = time.perf_counter() - started
    started = time.perf_counter()
    for x in arrays:
        for one in x:  # the original: model.predict on each character, one at a time
            reader.model.predict(one[None], verbose=0)
    single = time.perf_counter() - started
    return batched, single, sum(len(x) for x in arrays)


def main(argv: list[str] | None = None) -> int:
    rc = RecognizeConfig()
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--model", type=Path, default=rc.model, help="default model (trained here if missing)")
    p.add_argument("--images", type=Path, default=rc.images, help="test images")
    p.add_argument("--labels", type=Path, default=rc.labels, help="YOLO labels")
    p.add_argument("--skip-training", action="store_true", help="only time recognition with --model")
    args = p.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        default_model = args.model
        if not args.skip_training:
            default_model = Path(tmp) / "default.h5"
            wall, rss = train_child(default_model, [])
            print(f"training default ({TrainConfig().arch}): {wall:.0f} s wall, peak RSS {rss:.0f} MiB")
            rows.append((f"{TrainConfig().arch} (default)", default_model, wall, rss))
            seed_model = Path(tmp) / "seed.h5"
            budget = ["--arch", "seed", "--batch-size", "4", "--epochs", "240", "--augment", "0",
                      "--patience", "240", "--max-seconds", f"{wall:.0f}"]
            wall_s, rss_s = train_child(seed_model, budget)
            print(f"training seed (batch 4, original schedule cut to {wall:.0f} s): {wall_s:.0f} s wall, "
                  f"peak RSS {rss_s:.0f} MiB")
            rows.append(("seed (original)", seed_model, wall_s, rss_s))
        else:
            rows.append(("given model", default_model, float("nan"), float("nan")))

        print()
        print(f"{'model':22s} {'hits':>7s} {'median s':>9s} {'p90 s':>7s} {'train s':>8s} {'RSS MiB':>8s}")
        for name, model, wall, rss in rows:
            r = read_plates(model, args.images, args.labels)
            print(f"{name:22s} {r['hits']:>3d}/{r['plates']:<3d} {r['median_s']:>9.3f} {r['p90_s']:>7.3f} "
                  f"{wall:>8.0f} {rss:>8.0f}")
        batched, single, n = batching_gain(rows[0][1], args.images, args.labels)
        print()
        print(f"batched inference: {n} crops, one call per image {batched:.2f} s, "
              f"one predict per character {single:.2f} s, speed-up x{single / batched:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
