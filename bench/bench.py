#!/usr/bin/env python3
"""Benchmark figures (printed, never asserted): hits, time per plate, training cost, batching gain.

Run through ``make bench``. It trains the default architecture and the original
``seed`` network (batch 4, the original schedule cut to the same wall time) in
child processes, so wall time and peak RSS are measured per training run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from config import SPANISH_PLATE, RecognizeConfig, TrainConfig  # noqa: E402


def train_child(out: Path, extra: list[str]) -> tuple[float, float]:
    """Run train_cnn.py in a child process; return (wall seconds, child peak RSS in MiB).

    With a kept work folder, a model trained by an earlier run (``<out>.bench.json`` beside it) is
    reused with its recorded figures.
    """
    record = out.with_suffix(".bench.json")
    if record.is_file() and out.is_file():
        kept = json.loads(record.read_text(encoding="utf-8"))
        print(f"reusing {out} (trained by an earlier run)")
        return float(kept["wall"]), float(kept["rss"])
    started = time.perf_counter()
    cmd = [sys.executable, str(ROOT / "train_cnn.py"), "--out", str(out), "-q", *extra]
    child = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    # wait4 gives this child's own peak RSS (RUSAGE_CHILDREN would carry over the largest earlier child).
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise subprocess.CalledProcessError(child.returncode, cmd)
    wall, rss = time.perf_counter() - started, usage.ru_maxrss / 1024.0
    record.write_text(json.dumps({"wall": wall, "rss": rss}), encoding="utf-8")
    return wall, rss


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def read_plates(
    model: Path, images: Path, labels: Path | None, truth: Path, others: bool = False
) -> dict[str, float]:
    """Hits, timing and chosen-box recall of the full pipeline (labels given, or the localiser's boxes).

    ``truth`` is the label folder the chosen boxes are scored against, whether or not the reader saw it.
    """
    from plateocr.localize import iou
    from plateocr.plates import plate_boxes_from_labels
    from plateocr.batch import recognize_folder
    from plateocr.recognize import PlateReader, count_hits, list_images

    reader = PlateReader(model, RecognizeConfig(reader="chars"))
    files = list_images(images, include_all=others)
    if others:  # the images that are not Spanish NNNNAAA plates
        files = [f for f in files if not SPANISH_PLATE.match(f.stem)]
    reader.read_image(files[0], labels)  # warm-up: graph tracing is not per-plate work
    results = recognize_folder(reader, files, labels)
    times = [r.seconds for r in results]
    found = 0
    for r in results:
        boxes = plate_boxes_from_labels(truth / f"{r.name}.txt", *image_size(r.path))
        found += r.box is not None and any(iou(r.box.as_tuple(), t.as_tuple()) >= 0.5 for t in boxes)
    return {
        "hits": count_hits(results),
        "plates": len(results),
        "median_s": statistics.median(times),
        "p90_s": percentile(times, 0.9),
        "box_recall": found,
    }


def image_size(path: Path) -> tuple[int, int]:
    """Width and height of an image file, without decoding it all."""
    from PIL import Image

    with Image.open(path) as im:
        return im.size


def large_photo_seconds(model: Path, count: int = 5) -> float:
    """Median seconds per 12-megapixel synthetic photo (4000x3000 JPEG), read without labels."""
    import cv2
    import numpy as np

    from plateocr.recognize import PlateReader
    from plateocr.synth import make_scene

    reader = PlateReader(model, RecognizeConfig(reader="chars"))
    rng = np.random.default_rng(12)
    times = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(count):
            scene = make_scene(rng, canvas_size=(3000, 4000), plate_width=float(rng.uniform(200, 600)))
            path = Path(tmp) / f"{scene.text}.jpg"
            cv2.imwrite(str(path), scene.image, [cv2.IMWRITE_JPEG_QUALITY, 90])
            if i == 0:
                reader.read_image(path, None)
            times.append(reader.read_image(path, None).seconds)
    return statistics.median(times)


def batching_gain(model: Path, images: Path, labels: Path) -> tuple[float, float, int]:
    """Seconds for all crops of the 21 plates: one call per image vs one ``predict`` per character."""
    from plateocr.imageio import read_image
    from plateocr.plates import crop
    from plateocr.preprocess import preprocess_batch
    from plateocr.recognize import PlateReader, list_images

    reader = PlateReader(model, RecognizeConfig(reader="chars"))
    per_image = []
    for path in list_images(images, include_all=False):
        image = read_image(path)
        per_image.append(reader.chars.plate_crops([crop(image, c.box) for c in reader.candidates(image, path, labels)]).crops)
    arrays = [preprocess_batch(c, reader.chars.preprocess) for c in per_image]
    reader.chars.predict(arrays[0])
    reader.chars.predict(arrays[0][:1])
    started = time.perf_counter()
    for x in arrays:
        reader.chars.predict(x)
    batched = time.perf_counter() - started
    started = time.perf_counter()
    for x in arrays:
        for one in x:  # as the original program did: one model call per character
            reader.chars.predict(one[None])
    single = time.perf_counter() - started
    return batched, single, sum(len(x) for x in arrays)


def main(argv: list[str] | None = None) -> int:
    rc = RecognizeConfig()
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--model", type=Path, default=rc.model, help="default model (trained here if missing)")
    p.add_argument("--images", type=Path, default=rc.images, help="test images")
    p.add_argument("--labels", type=Path, default=rc.labels, help="YOLO labels")
    p.add_argument("--skip-training", action="store_true", help="only time recognition with --model")
    p.add_argument("--workdir", type=Path, help="keep the trained models here (and reuse them on the next run) "
                   "instead of a temporary folder")
    args = p.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        tmp = args.workdir or Path(scratch)
        tmp.mkdir(parents=True, exist_ok=True)
        default_model = args.model
        if not args.skip_training:
            default_model = tmp / "default.h5"
            wall, rss = train_child(default_model, [])
            print(f"training default ({TrainConfig().arch}): {wall:.0f} s wall, peak RSS {rss:.0f} MiB")
            rows.append((f"{TrainConfig().arch} (default)", default_model, wall, rss))
            seed_model = tmp / "seed.h5"
            budget = ["--arch", "seed", "--batch-size", "4", "--epochs", "240", "--augment", "0",
                      "--patience", "240", "--max-seconds", f"{wall:.0f}"]
            wall_s, rss_s = train_child(seed_model, budget)
            print(f"training seed (batch 4, original schedule cut to {wall:.0f} s): {wall_s:.0f} s wall, "
                  f"peak RSS {rss_s:.0f} MiB")
            rows.append(("seed (original)", seed_model, wall_s, rss_s))
            seed_recipe = tmp / "seed_recipe.h5"
            wall_r, rss_r = train_child(seed_recipe, ["--arch", "seed"])
            print(f"training seed with the default recipe (same split, augmentation, synthetic crops): "
                  f"{wall_r:.0f} s wall, peak RSS {rss_r:.0f} MiB")
            rows.append(("seed (our recipe)", seed_recipe, wall_r, rss_r))
        else:
            rows.append(("given model", default_model, float("nan"), float("nan")))

        print()
        print(f"{'model':22s} {'val acc':>7s} {'labels':>7s} {'hits':>7s} {'box@.5':>7s} {'median s':>9s} "
              f"{'p90 s':>7s} {'train s':>8s} {'RSS MiB':>8s}")
        for name, model, wall, rss in rows:
            val = json.loads(model.with_suffix(".json").read_text(encoding="utf-8")).get("val_accuracy", float("nan"))
            for mode, labels in (("yes", args.labels), ("no", None)):
                r = read_plates(model, args.images, labels, args.labels)
                print(f"{name:22s} {val:>7.1%} {mode:>7s} {r['hits']:>3d}/{r['plates']:<3d} "
                      f"{r['box_recall']:>3d}/{r['plates']:<3d} {r['median_s']:>9.3f} {r['p90_s']:>7.3f} "
                      f"{wall:>8.0f} {rss:>8.0f}")
        other = read_plates(rows[0][1], args.images, None, args.labels, others=True)
        print(f"plate box recall without labels on the {other['plates']} other (non-Spanish) labelled images: "
              f"{other['box_recall']}/{other['plates']}")
        print(f"12-megapixel photos, no labels: median {large_photo_seconds(rows[0][1]):.2f} s per image")
        batched, single, n = batching_gain(rows[0][1], args.images, args.labels)
        print()
        print(f"batched inference: {n} crops, one call per image {batched:.2f} s, "
              f"one predict per character {single:.2f} s, speed-up x{single / batched:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
