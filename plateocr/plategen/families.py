"""The style families: two renderers with their own look, so that one can test transfer to the other.

* ``truetype``: PIL TrueType faces (narrow DIN-like first, then many others), EU proportions
  (520 x 110 mm, squares 280 x 200), white or GB-yellow paper, the blue EU band with a ring of
  stars and the country code, French/Italian right bands, Portugal's yellow strip, thin rounded
  black border; a camera-like degradation mix (defocus, sensor noise, JPEG, gentle light).
* ``stroke``: OpenCV Hershey stroke faces (pen widths, italics) or Chars74K glyphs, squatter
  plates (aspect 3.6-4.4, squares 1.1-1.45), cream/grey/pale palettes and some inverted plates,
  no band or a narrow dark band with a ring of dots, thick square borders or none, monospaced
  cells; a rougher mix (motion blur, digital zoom, over-sharpening, salt-and-pepper, casts).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from plateocr.plategen.render import (
    EU_BLUE,
    GB_YELLOW,
    PT_YELLOW,
    Band,
    Colour,
    GlyphFn,
    Style,
    hershey_glyphs,
    jittered_colour,
    near_colour,
    truetype_glyphs,
)
from plateocr.plategen.texts import Layout

# Two-row plates' width / height per country (one-row plates are 520 x 110 mm everywhere here).
TWO_ROW_ASPECT = {"E": 280 / 200, "": 300 / 200, "F": 275 / 200, "I": 1.3, "D": 340 / 200, "GB": 279 / 203}
ONE_ROW_ASPECT = 520 / 110


@dataclass(frozen=True)
class Family:
    """A style family: how a plate looks and how its crop is degraded.

    Attributes:
        name: the family's name, stored in every sample it draws.
        style: draws a plate's look for a layout, given the glyph source it will use.
        glyphs: draws the family's own glyph source (a TrueType face, a Hershey face...).
        effects: the probability of each effect (:data:`plateocr.plategen.effects.EFFECT_NAMES`),
            plate extra (``screws``, ``dirt``, ``holder``) and geometry (``tilt``, ``perspective``,
            ``crop_loose``, ``crop_tight``, ``crop_off_centre``, ``crop_clipped``).
        strength: range of the degradation strength.
        chars74k_share: share of plates whose characters are Chars74K crops (when a bank is given).
    """

    name: str
    style: Callable[[Layout, GlyphFn, str, np.random.Generator], Style]
    glyphs: Callable[[np.random.Generator], tuple[GlyphFn, str]]
    effects: Mapping[str, float]
    strength: tuple[float, float]
    chars74k_share: float


def _aspect(
    layout: Layout, rng: np.random.Generator, one_row: tuple[float, float], two_rows: tuple[float, float] | None
) -> float:
    if not layout.two_rows:
        return rng.uniform(*one_row)
    if two_rows is None:
        return TWO_ROW_ASPECT.get(layout.country, 1.4) * rng.uniform(0.97, 1.03)
    return rng.uniform(*two_rows)


def _right_band(layout: Layout, colour: Colour, width: float, rng: np.random.Generator) -> Band | None:
    """French and Italian plates carry a right band (department / year), Portuguese a yellow strip."""
    digits = "".join(str(int(d)) for d in rng.integers(0, 10, size=2))
    if layout.country in ("F", "I"):
        return Band("right", width, colour, label=digits)
    if layout.country == "P":
        return Band("right", width * 0.85, PT_YELLOW, label=digits)
    return None


# Special Spanish series' plates (BGR paper, ink): a moped's yellow, a red one, a green one with white letters.
SPECIAL_PAPERS: tuple[tuple[Colour, Colour], ...] = (
    ((40, 210, 240), (15, 15, 15)),
    ((45, 45, 200), (15, 15, 15)),
    ((60, 130, 20), (240, 240, 240)),
)

# Each family's plate frame and lettering, side by side: Style field -> (truetype, stroke) ranges,
# drawn uniformly; "border" in px per 100 px of plate height (0: none), "stroke" the erode/dilate step.
LOOK_MIX: dict[str, tuple[tuple[float, float], tuple[float, float]]] = {
    "radius": ((0.03, 0.09), (0.0, 0.03)),
    "char_height": ((0.62, 0.78), (0.55, 0.82)),
    "spacing": ((0.04, 0.2), (0.0, 0.3)),
    "gap": ((0.2, 0.55), (0.15, 0.8)),
    "digit_aspect": ((0.45, 0.64), (0.5, 0.75)),
}
NO_BORDER = (0.0, 0.35)  # share of plates without a border
BORDERS = ((1, 2), (2, 5))  # border widths drawn from, inclusive
BORDER_INK = ((0, 40, 3), (0, 90, 20))  # border colour: grey level range and jitter
MONOSPACED = (0.3, 0.7)  # share of plates with every character in a cell of one width
STROKES: tuple[tuple[int, ...], ...] = ((-2, -1, 0, 0, 0, 1, 2), (-1, 0, 0, 1, 2, 3))


def _look(column: int, rng: np.random.Generator) -> dict[str, Any]:
    """A plate's frame and lettering drawn from family ``column`` of the tables above."""
    look: dict[str, Any] = {name: rng.uniform(*ranges[column]) for name, ranges in LOOK_MIX.items()}
    low, high = BORDERS[column]
    look["border"] = 0 if rng.uniform() < NO_BORDER[column] else int(rng.integers(low, high + 1))
    look["border_colour"] = jittered_colour(rng, *BORDER_INK[column])
    look["mono"] = bool(rng.uniform() < MONOSPACED[column])
    look["stroke"] = int(rng.choice(STROKES[column]))
    return look


def _truetype_style(layout: Layout, glyph: GlyphFn, tag: str, rng: np.random.Generator) -> Style:
    paper: Colour = jittered_colour(rng, 222, 253, 5)
    ink: Colour = jittered_colour(rng, 0, 45, 4)
    if layout.country == "GB" and rng.uniform() < 0.5:
        paper = near_colour(GB_YELLOW, 15, rng)
    elif layout.kind == "spanish_old" and rng.uniform() < 0.25:  # the black plates with white characters
        paper, ink = jittered_colour(rng, 5, 40, 4), jittered_colour(rng, 215, 250, 5)
    elif layout.kind == "spanish_special" and rng.uniform() < 0.6:  # a moped's yellow, a red or a green plate
        paper, ink = SPECIAL_PAPERS[int(rng.integers(0, len(SPECIAL_PAPERS)))]
        paper, ink = near_colour(paper, 15, rng), near_colour(ink, 15, rng)
    bands: list[Band] = []
    band_w = rng.uniform(0.07, 0.09) if not layout.two_rows else rng.uniform(0.1, 0.13)
    if layout.country and not (layout.country == "GB" and rng.uniform() < 0.4):
        blue = near_colour(EU_BLUE, 20, rng)
        bands.append(Band("left", band_w, blue, label=layout.country, ring="stars"))
        right = _right_band(layout, blue, band_w, rng)
        if right is not None and not layout.two_rows:
            bands.append(right)
    aspect = _aspect(layout, rng, (ONE_ROW_ASPECT * 0.97, ONE_ROW_ASPECT * 1.03), None)
    return Style(aspect, paper, ink, glyph, tag, tuple(bands), label_glyph=glyph, **_look(0, rng))


# Paper palettes of the stroke family (BGR base colour, jitter): cream, light grey, pale yellow, pale blue-grey.
STROKE_PAPERS: tuple[tuple[Colour, int], ...] = (
    ((190, 225, 235), 15),
    ((195, 195, 195), 25),
    ((150, 225, 240), 15),
    ((225, 210, 195), 15),
)
STROKE_BANDS: tuple[Colour, ...] = ((110, 40, 10), (90, 90, 0), (70, 30, 30), (140, 70, 20))


def _stroke_style(layout: Layout, glyph: GlyphFn, tag: str, rng: np.random.Generator) -> Style:
    base, jitter = STROKE_PAPERS[int(rng.integers(0, len(STROKE_PAPERS)))]
    paper = near_colour(base, jitter, rng)
    ink: Colour = jittered_colour(rng, 10, 80, 25)
    tags: tuple[str, ...] = ()
    if rng.uniform() < 0.12:
        paper, ink, tags = jittered_colour(rng, 15, 70, 20), jittered_colour(rng, 200, 250, 10), ("inverted",)
    bands: list[Band] = []
    if layout.country and rng.uniform() < 0.45:
        colour = STROKE_BANDS[int(rng.integers(0, len(STROKE_BANDS)))]
        width = rng.uniform(0.05, 0.1) * (1.5 if layout.two_rows else 1.0)
        bands.append(Band("left", width, colour, label=layout.country, ring="dots"))
        right = _right_band(layout, colour, width, rng)
        if right is not None and not layout.two_rows and rng.uniform() < 0.5:
            bands.append(right)
    hershey, _ = hershey_glyphs(rng)
    aspect = _aspect(layout, rng, (3.6, 4.4), (1.1, 1.45))
    return Style(aspect, paper, ink, glyph, tag, tuple(bands), label_glyph=hershey, tags=tags, **_look(1, rng))


# Each family's degradation mix, side by side: effect -> (truetype probability, stroke probability).
EFFECT_MIX: dict[str, tuple[float, float]] = {
    # light, colour, optics, sensor, compression (plateocr.plategen.effects)
    "lighting": (0.55, 0.35),
    "shadow": (0.2, 0.35),
    "glare": (0.12, 0.22),
    "cast": (0.2, 0.35),
    "low_light": (0.12, 0.2),
    "defocus": (0.45, 0.2),
    "motion": (0.12, 0.35),
    "pixelate": (0.04, 0.25),
    "sharpen": (0.08, 0.2),
    "noise": (0.6, 0.45),
    "salt_pepper": (0.0, 0.15),
    "jpeg": (0.75, 0.55),
    # on the plate
    "screws": (0.35, 0.25),
    "dirt": (0.25, 0.35),
    "holder": (0.25, 0.3),
    # geometry: a large rotation (else a mild one), strong perspective, and the crop modes (else "normal")
    "tilt": (0.45, 0.45),
    "perspective": (0.55, 0.55),
    "crop_loose": (0.2, 0.25),
    "crop_tight": (0.2, 0.15),
    "crop_off_centre": (0.15, 0.2),
    "crop_clipped": (0.1, 0.12),
}

FAMILIES: dict[str, Family] = {
    family.name: family
    for family in (
        Family(
            "truetype", _truetype_style, truetype_glyphs, {k: v[0] for k, v in EFFECT_MIX.items()}, (0.3, 1.0), 0.12
        ),
        Family("stroke", _stroke_style, hershey_glyphs, {k: v[1] for k, v in EFFECT_MIX.items()}, (0.3, 1.0), 0.3),
    )
}
STYLE_FAMILIES: tuple[str, ...] = tuple(FAMILIES)
