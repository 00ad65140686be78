#!/usr/bin/env python3
"""Plates already cut out of their photos: read whole (the default), searched by the localiser only, or all read whole.

::

    .venv/bin/python bench/crops.py [--model M] [--plate-model P] [--generated 400] [--seed 777]

A user who has a plate detector, or crops the plate by hand, gives the reader a crop that the plate
fills. Two sources, read without labels:

- test6Training's 21 Spanish plates cut out of their photos around their label box: the box filling
  ``fill`` of the crop's width, the crop ``aspect`` times as wide as tall (edge pixels mirrored where
  it reaches past the photo), at three output widths (160, 320 and 1000 px; a crop narrower than its
  box's height clips the characters' tops and bottoms, as a careless crop does);
- crops drawn by the whole-plate reader's generator (``plategen.sample_plate``, tilted up to 10°):
  Spanish, foreign and old Spanish plates, plate-like things with no plate, and two-row Spanish squares.

Each is read three ways: the default (an image at least ``crop_aspect`` times as wide as tall is read
whole as its first box, one at most ``crop_size`` px long as its last), ``crop_aspect`` and ``crop_size``
0 (the localiser's boxes only, the reader before) and ``--crops`` (every image read whole first). Prints right and wrong (another plate answered; on the
sets with no Spanish plate every answer is wrong) per set and way.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
# bench/perturbed.py beside it, appended (not first: ``bench`` must stay this folder, not bench/bench.py).
if str(ROOT / "bench") not in sys.path:
    sys.path.append(str(ROOT / "bench"))

from config import RecognizeConfig  # noqa: E402
from perturbed import spanish_photos  # noqa: E402
from plateocr.plates import Box  # noqa: E402

# (fill, aspect) of the test6 crops: clipped one-row crops, loose one-row crops, a wider margin, 4:3.
TEST6_FRAMES = ((0.95, 4.5), (0.9, 4.0), (0.8, 3.0), (0.85, 2.2), (0.7, 4 / 3))
TEST6_WIDTHS = (160, 320, 1000)
# A set: (name, [(crop, the Spanish plate shown or "")]).
CropSet = tuple[str, list[tuple[np.ndarray, str]]]


def cut_out(image: np.ndarray, box: Box, fill: float, aspect: float) -> np.ndarray:
    """The crop ``box.w / fill`` wide and ``aspect`` times as wide as tall, centred on ``box`` (edges mirrored)."""
    width = box.w / fill
    height = width / aspect
    pad = int(max(width, height))
    padded = cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_REFLECT)
    x0 = round(box.x + box.w / 2 - width / 2) + pad
    y0 = round(box.y + box.h / 2 - height / 2) + pad
    return padded[y0 : y0 + round(height), x0 : x0 + round(width)]


def test6_sets(data: Path) -> list[CropSet]:
    """One set per (fill, aspect): test6's Spanish plates cut out, each at the three output widths."""
    photos = spanish_photos(data)
    sets = []
    for fill, aspect in TEST6_FRAMES:
        crops = []
        for path, image, box in photos:
            crop = cut_out(image, box, fill, aspect)
            for width in TEST6_WIDTHS:
                scale = width / crop.shape[1]
                shrink = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
                crops.append((cv2.resize(crop, None, fx=scale, fy=scale, interpolation=shrink), path.stem))
        sets.append((f"test6 fill {fill:g}, {aspect:.2g}:1", crops))
    return sets


def generated_sets(count: int, seed: int) -> list[CropSet]:
    """``count`` generated crops of each kind (Spanish, foreign, old Spanish, no plate, two-row Spanish)."""
    from plateocr.plategen import GenConfig, sample_plate

    rng = np.random.default_rng(seed)
    two_rows = GenConfig(two_row_share=1.0)
    sets = []
    for kind, config in (("spanish", None), ("foreign", None), ("spanish_old", None), ("none", None), ("spanish", two_rows)):
        samples = [sample_plate(rng, kind=kind, max_tilt=10.0, **({"config": config} if config else {})) for _ in range(count)]
        name = f"generated {kind}{' two-row' if config else ''}"
        sets.append((name, [(s.image, s.text if kind == "spanish" else "") for s in samples]))
    return sets


def main(argv: Sequence[str] | None = None) -> int:
    rc = RecognizeConfig()
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", type=Path, default=rc.model, help="Chars74K model")
    p.add_argument("--plate-model", type=Path, default=rc.plate_model, help="whole-plate reader model")
    p.add_argument("--data", type=Path, default=ROOT / "data", help="prepared data folder (test6Training)")
    p.add_argument("--generated", type=int, default=120, help="generated crops of each kind (0: none)")
    p.add_argument("--seed", type=int, default=777, help="seed of the generated crops")
    args = p.parse_args(argv)
    from plateocr.recognize import PlateReader

    started = time.perf_counter()
    base = replace(rc, plate_model=args.plate_model)
    ways = {
        f"default (whole from {rc.crop_aspect:g}:1, or up to {rc.crop_size} px)": base,
        "localiser only (crop_aspect and crop_size 0)": replace(base, crop_aspect=0.0, crop_size=0),
        "--crops": replace(base, crops=True),
    }
    readers = {name: PlateReader(args.model, cfg) for name, cfg in ways.items()}
    sets = test6_sets(args.data) + (generated_sets(args.generated, args.seed) if args.generated else [])
    print("| set | crops | " + " | ".join(f"{w}: right | wrong" for w in ways) + " |")
    print("| --- | --- |" + " --- | --- |" * len(ways))
    totals = {w: [0, 0] for w in ways}
    for name, crops in sets:
        cells = []
        for way, reader in readers.items():
            texts = [reader.read_image(Path(f"crop{i}.png"), None, image=crop).text for i, (crop, _) in enumerate(crops)]
            right = sum(bool(t) and t == plate for t, (_, plate) in zip(texts, crops))
            wrong = sum(bool(t) and t != plate for t, (_, plate) in zip(texts, crops))
            totals[way][0] += right
            totals[way][1] += wrong
            cells.append(f"{right} | {wrong}")
        print(f"| {name} | {len(crops)} | " + " | ".join(cells) + " |", flush=True)
    total = sum(len(c) for _, c in sets)
    print(f"| **all** | {total} | " + " | ".join(f"**{r}** | {w}" for r, w in totals.values()) + " |")
    print(f"\nreader both, threshold {rc.min_confidence:g}, {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
