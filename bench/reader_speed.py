#!/usr/bin/env python3
"""Speed of the readers: the whole-plate reader per crop (batched), and each reader mode per image.

::

    .venv/bin/python bench/reader_speed.py [--model M] [--plate-model P] [--repeat 3]

Prints the whole-plate reader's milliseconds per crop for batches of 1, 8 and 64 crops (input
preparation and the ONNX Runtime call, separately), then the median and 90th percentile seconds per
image of test6Training's 117 photos for each reader mode, with and without labels (the fastest of
``--repeat`` passes per image), and last the seconds and peak memory (``tracemalloc``, a second pass: NumPy's arrays
and Python's objects) of reading large photos without labels: a test6 photo scaled up to 12 and 48
megapixels, and 48 megapixels of random texture, the localiser's worst case (tens of thousands of
character-like blobs). Figures, not assertions: they move with the machine's load.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import tracemalloc
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from config import READERS, RecognizeConfig  # noqa: E402
from plateocr.imageio import read_image  # noqa: E402
from plateocr.platemodel import plate_inputs  # noqa: E402
from plateocr.platereader import WholePlateReader  # noqa: E402
from plateocr.plates import crop  # noqa: E402
from plateocr.recognize import PlateReader  # noqa: E402


def best_of(repeat: int, work: object) -> float:
    """The fastest of ``repeat`` timings of ``work()``, in seconds."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()  # type: ignore[operator]
        times.append(time.perf_counter() - started)
    return min(times)


def main(argv: Sequence[str] | None = None) -> int:
    rc = RecognizeConfig()
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", type=Path, default=rc.model, help="Chars74K model")
    p.add_argument("--plate-model", type=Path, default=rc.plate_model, help="whole-plate reader model")
    p.add_argument("--images", type=Path, default=rc.images, help="photos to time (test6Training)")
    p.add_argument("--repeat", type=int, default=3, help="passes; the fastest counts")
    args = p.parse_args(argv)

    images = sorted(args.images.glob("*.jpg"))
    labels = args.images.parent / "labels"
    reader = PlateReader(args.model, replace(rc, plate_model=args.plate_model, reader="both"))
    crops = []
    for path in images:
        image = read_image(path)
        crops += [crop(image, c.box) for c in reader.candidates(image, path, labels)]
    plate = WholePlateReader(args.plate_model)
    print("| crops per call | prepare ms/crop | model ms/crop | total ms/crop |")
    print("|---|---|---|---|")
    for batch in (1, 8, 64):
        chunk = (crops * (batch // len(crops) + 1))[:batch]
        prepare = best_of(args.repeat * 3, lambda: plate_inputs(chunk, plate.cfg))
        x = plate_inputs(chunk, plate.cfg)
        plate.model.predict(x)
        model = best_of(args.repeat * 3, lambda: plate.model.predict(x))
        print(f"| {batch} | {1000 * prepare / batch:.2f} | {1000 * model / batch:.2f} | {1000 * (prepare + model) / batch:.2f} |")

    print("\n| reader | labels | median s/image | p90 s/image |")
    print("|---|---|---|---|")
    for mode in READERS:
        mode_reader = PlateReader(args.model, replace(rc, plate_model=args.plate_model, reader=mode))
        for with_labels in (True, False):
            folder = labels if with_labels else None
            mode_reader.read_image(images[0], folder)  # warm-up
            seconds = [best_of(args.repeat, lambda p=path: mode_reader.read_image(p, folder)) for path in images]
            p90 = float(np.percentile(seconds, 90))
            print(f"| {mode} | {'yes' if with_labels else 'no'} | {statistics.median(seconds):.3f} | {p90:.3f} |")

    print("\n| large photo, no labels | seconds | peak memory MB |")
    print("|---|---|---|")
    photo = read_image(images[0])
    texture = np.random.default_rng(0).integers(0, 256, (6000, 8000, 3), dtype=np.uint8)
    for name, image in (
        (f"{images[0].name} at 4000x3000", cv2.resize(photo, (4000, 3000), interpolation=cv2.INTER_CUBIC)),
        (f"{images[0].name} at 8000x6000", cv2.resize(photo, (8000, 6000), interpolation=cv2.INTER_CUBIC)),
        ("random texture 8000x6000", texture),
    ):
        started = time.perf_counter()
        reader.read_image(Path(name), None, image=image)
        seconds = time.perf_counter() - started
        tracemalloc.start()  # a second pass: tracing slows the localiser's Python down
        reader.read_image(Path(name), None, image=image)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        print(f"| {name} | {seconds:.2f} | {peak / 2**20:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
