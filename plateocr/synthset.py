"""Character crops cut by our own segmenter from synthetic plates: training sees what recognition sees."""

from __future__ import annotations

import logging

import numpy as np

from config import CLASSES, PLATE_LENGTH, RecognizeConfig
from plateocr.dataset import CharacterSet
from plateocr.filters import FILTERS
from plateocr.plates import Box

log = logging.getLogger(__name__)


def digit_letter_gap_is_widest(boxes: list[Box]) -> bool:
    """True when the largest gap between neighbours separates the 4 digits from the 3 letters."""
    gaps = [b.x - (a.x + a.w) for a, b in zip(boxes, boxes[1:])]
    return int(np.argmax(gaps)) == 3


def synthetic_characters(n_plates: int, seed: int, cfg: RecognizeConfig | None = None) -> CharacterSet:
    """Render and degrade ``n_plates`` random plates, segment them like recognition does, label by position.

    A plate whose segmentation is not 7 boxes with the digit/letter gap in its place is
    skipped, so no crop is given a label it might not deserve.
    """
    from plateocr.charreader import character_crops, normalise_plate
    from plateocr.segment import segment_plate
    from plateocr.synth import degrade_plate, random_plate_text, render_plate

    cfg = cfg or RecognizeConfig()
    rng = np.random.default_rng(seed)
    names = sorted(FILTERS)
    images: list[np.ndarray] = []
    labels: list[int] = []
    kept = 0
    for _ in range(n_plates):
        text = random_plate_text(rng)
        plate = degrade_plate(render_plate(text, rng), rng, strength=float(rng.uniform(0.2, 1.0)))
        gray = normalise_plate(plate.image, cfg.plate_height)
        filtered = FILTERS[names[int(rng.integers(len(names)))]](gray)
        boxes = segment_plate(filtered)
        if len(boxes) != PLATE_LENGTH or not digit_letter_gap_is_widest(boxes):
            continue
        for crop, char in zip(character_crops(filtered, boxes), text):
            images.append(np.ascontiguousarray(crop))
            labels.append(CLASSES.index(char))
        kept += 1
    log.info("synthetic plates: %d of %d segmented cleanly, %d character crops", kept, n_plates, len(images))
    return CharacterSet(images, np.asarray(labels, dtype=np.int64), [])
