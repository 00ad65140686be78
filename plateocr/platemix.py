"""The whole-plate reader's training mix: plategen's two style families plus the classic renderer.

The classic family is ``plateocr.synth``'s Spanish plate (the narrow DIN-like face, the EU band,
the character trainer's renderer), seen through plategen-like geometry: any tilt up to 30°, a
crop as a label box, a localiser box or a tight box would give it. Three renderers make three
style families; a model trained on some and tested on another measures transfer
(``bench/plate_transfer.py``).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np

from plateocr import synth
from plateocr.plates import Box

log = logging.getLogger(__name__)

CLASSIC = "classic"
# Draws one (BGR crop, text) sample; the optional second argument is the difficulty in (0, 1] (1: full).
Sampler = Callable[..., tuple[np.ndarray, str]]


def crop_around(image: np.ndarray, corners: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The plate's bounds with random margins, on a bumper-like background where the crop leaves the image.

    Most crops are label-like (a few per cent around the plate), a quarter loose (a localiser's
    box), the rest tight or clipping an edge.
    """
    h, w = image.shape[:2]
    (x0, y0), (x1, y1) = corners.min(axis=0), corners.max(axis=0)
    bw, bh = x1 - x0, y1 - y0
    r = rng.random()
    if r < 0.6:
        mx, my = rng.uniform(0.0, 0.1, 2), rng.uniform(0.0, 0.2, 2)
    elif r < 0.85:
        mx, my = rng.uniform(0.05, 0.25, 2), rng.uniform(0.1, 0.6, 2)
    else:
        mx, my = rng.uniform(-0.06, 0.04, 2), rng.uniform(-0.1, 0.1, 2)
    pad = int(max(bw, bh)) + 4
    canvas = synth._background_patch((h + 2 * pad, w + 2 * pad), rng)
    canvas[pad : pad + h, pad : pad + w] = image
    left, right = round(x0 - mx[0] * bw) + pad, round(x1 + mx[1] * bw) + pad
    top, bottom = round(y0 - my[0] * bh) + pad, round(y1 + my[1] * bh) + pad
    return canvas[max(0, top) : max(top + 2, bottom), max(0, left) : max(left + 2, right)]


def in_surroundings(image: np.ndarray, rng: np.random.Generator, margin: float = 0.25) -> tuple[np.ndarray, Box]:
    """A crop set back into bumper-like surroundings ``margin`` of its size wider on every side, and its
    box there: what a plate box in a photo has around it, for views reaching past the box."""
    from plateocr.plategen.sample import surround

    h, w = image.shape[:2]
    dx, dy = max(1, round(margin * w)), max(1, round(margin * h))
    canvas = surround((h + 2 * dy, w + 2 * dx), rng)
    canvas[dy : dy + h, dx : dx + w] = image
    return canvas, Box(dx, dy, w, h)


def levelled_sample(image: np.ndarray, corners: np.ndarray, rng: np.random.Generator) -> np.ndarray | None:
    """The crop as the reader's levelling would show it (``plateocr.level``), or None where it finds the plate level.

    The plate's bounds, each side moved by up to 5 % (a label's or the localiser's box), are levelled
    with margins drawn around ``RecognizeConfig.level_margins`` (the crop's edge pixels repeated where
    the cut-out leaves it). The levelled view, with the shear that perspective leaves and the tilt
    search's own errors, is what the reader reads beside the box's views, so it is trained on too.
    """
    from plateocr.level import level_plate

    (x0, y0), (x1, y1) = corners.min(axis=0), corners.max(axis=0)
    bw, bh = x1 - x0, y1 - y0
    left, top, right, bottom = np.array([x0, y0, x1, y1]) + rng.uniform(-0.05, 0.05, 4) * [bw, bh, bw, bh]
    h, w = image.shape[:2]
    left, top = int(np.clip(round(left), 0, w - 4)), int(np.clip(round(top), 0, h - 4))
    box = Box(left, top, max(4, min(w - left, round(right) - left)), max(4, min(h - top, round(bottom) - top)))
    levelled = level_plate(image, box, [(float(rng.uniform(0.03, 0.15)), float(rng.uniform(0.06, 0.3)))])
    return levelled.views[0] if levelled.views else None


# The classic family's plate widths in pixels (log-uniform); training draws from PlateTrainConfig.min_plate_width.
CLASSIC_MIN_WIDTH, CLASSIC_MAX_WIDTH = 60.0, 260.0


def classic_sample(
    rng: np.random.Generator, difficulty: float = 1.0, min_width: float = CLASSIC_MIN_WIDTH,
    max_width: float = CLASSIC_MAX_WIDTH,
) -> tuple[np.ndarray, str]:
    """A classic Spanish plate crop (10 % two-row), ``min_width``-``max_width`` px wide (log-uniform), mostly
    near-level, up to 30° tilted.

    ``difficulty`` (0-1] scales the largest tilt and the strength of the degradations (a curriculum).
    """
    two_rows = rng.random() < 0.1
    text = synth.random_plate_text(rng)
    plate = synth.render_plate(text, rng, two_rows=two_rows)
    width = float(np.exp(rng.uniform(np.log(min_width), np.log(max_width))))
    max_angle = 8.0 if rng.random() < 0.7 else 8.0 + 22.0 * difficulty
    warped, coverage, corners, _ = synth._warp(
        plate.image, [], width, rng, float(rng.uniform(0.3, 1.0)), max_angle=max_angle
    )
    background = synth._background_patch(warped.shape[:2], rng)
    mixed = warped * coverage[..., None] + background * (1 - coverage[..., None])
    mixed = synth._apply_steps(mixed, rng, difficulty, synth.PLATE_STEPS)
    cropped = crop_around(mixed, corners, rng)
    return synth._to_jpeg_uint8(synth._apply_steps(cropped, rng, 0.8 * difficulty, synth.SCENE_STEPS), rng, 1.0), text


# plategen's kinds for training: fewer Spanish plates than its default mix (the classic family adds
# more), so that letters where a Spanish plate has digits are read as letters, not as Spanish digits.
TRAINING_KINDS = {"spanish": 0.5, "spanish_old": 0.1, "foreign": 0.28, "none": 0.12}


def _width_range(
    own: tuple[float, float], min_width: float | None, max_width: float | None
) -> tuple[float, float]:
    """A family's plate widths ``own`` with the bounds given (not None) in their place."""
    return (own[0] if min_width is None else min_width, own[1] if max_width is None else max_width)


def training_sampler(
    data_dir: Path, chars74k_share: float, families: tuple[str, ...] = (), classic_share: float = 0.3,
    levelled_share: float = 0.0, two_row_share: float | None = None, min_width: float | None = None,
    max_width: float | None = None,
) -> Sampler:
    """Draws from the classic family with ``classic_share`` (when selected), else from plategen's families.

    The sampler is called as ``sampler(rng)`` or ``sampler(rng, difficulty)``: below 1 the plates'
    largest tilt and degradation strength are eased (a curriculum's early steps); at 1 it draws exactly
    what ``sampler(rng)`` draws.

    Args:
        data_dir: the prepared data folder (Chars74K glyphs, loaded once when ``chars74k_share > 0``).
        chars74k_share: share of plategen plates drawn with Chars74K glyphs.
        families: style families to draw from (``classic``, plategen's ``STYLE_FAMILIES``); empty: all.
        classic_share: the classic family's share when it is drawn with others.
        levelled_share: share of plategen plates replaced by their levelled view (``levelled_sample``)
            where the levelling finds them tilted.
        two_row_share: share of plategen plates drawn as two-row squares where their format has one
            (None: plategen's default).
        min_width: the narrowest plate in pixels, for both the classic and plategen's families (None: each
            one's own default, ``CLASSIC_MIN_WIDTH`` and ``GenConfig.plate_width``).
        max_width: the widest plate in pixels, for every family (None: ``CLASSIC_MAX_WIDTH`` and
            ``GenConfig.plate_width``'s).
    """
    from dataclasses import replace

    from plateocr.plategen import DEFAULT_CONFIG, FAMILIES, STYLE_FAMILIES, GenConfig, GlyphBank, sample_plate

    families = families or (CLASSIC, *STYLE_FAMILIES)
    unknown = set(families) - {CLASSIC, *STYLE_FAMILIES}
    if unknown:
        raise ValueError(f"unknown style families {sorted(unknown)}; choose from {[CLASSIC, *STYLE_FAMILIES]}")
    generated = tuple(f for f in families if f != CLASSIC)
    share = 0.0 if CLASSIC not in families else 1.0 if not generated else classic_share
    glyphs = GlyphBank.load(data_dir) if chars74k_share > 0 and generated else None
    gen = replace(
        DEFAULT_CONFIG, kind_weights=TRAINING_KINDS, chars74k_share=chars74k_share,
        family_weights={f: 1.0 for f in generated or STYLE_FAMILIES},
        two_row_share=DEFAULT_CONFIG.two_row_share if two_row_share is None else two_row_share,
        plate_width=_width_range(DEFAULT_CONFIG.plate_width, min_width, max_width),
    )
    classic_width = _width_range((CLASSIC_MIN_WIDTH, CLASSIC_MAX_WIDTH), min_width, max_width)
    gen.validate()
    log.info("training families %s (classic share %.0f %%)", ", ".join(families), 100 * share)

    # The degradation strengths the families draw from at full difficulty.
    low = min(FAMILIES[f].strength[0] for f in gen.family_weights)
    high = max(FAMILIES[f].strength[1] for f in gen.family_weights)

    @functools.lru_cache(maxsize=32)
    def eased(difficulty: float) -> GenConfig:
        """The generator's balance at a lower difficulty: the families' strength range shrunk towards 0."""
        return gen if difficulty >= 1.0 else replace(gen, strength=(low * difficulty, low + (high - low) * difficulty))

    def sampler(rng: np.random.Generator, difficulty: float = 1.0) -> tuple[np.ndarray, str]:
        if rng.random() < share:
            return classic_sample(rng, difficulty, *classic_width)
        sample = sample_plate(rng, glyphs=glyphs, config=eased(difficulty), max_tilt=5.0 + 25.0 * difficulty)
        if levelled_share > 0 and sample.text and rng.random() < levelled_share:
            levelled = levelled_sample(sample.image, sample.corners, rng)
            if levelled is not None:
                return levelled, sample.text
        return sample.image, sample.text

    return sampler
