"""Plate crops and scenes: draw a plate in a family's style, put it in perspective, crop and degrade it."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from plateocr.plategen.effects import EFFECT_NAMES, apply_effects
from plateocr.plategen.families import FAMILIES, Family
from plateocr.plategen.glyphs import GlyphBank
from plateocr.plategen.render import (
    GlyphFn,
    Style,
    chars74k_glyphs,
    composite,
    dealer_text,
    draw_plate,
    draw_row,
    jittered_colour,
)
from plateocr.plategen.texts import GAP, KINDS, LAYOUTS, Layout, layouts_of
from plateocr.synth import Box, _corners_box, _scene_background, _smooth_field, _transform_points

NEGATIVE_LAYOUTS: tuple[str, ...] = ("background", "grille", "road", "text", "noise")
CROP_MODES: tuple[str, ...] = ("loose", "tight", "off_centre", "clipped")
EXTRAS: tuple[str, ...] = ("screws", "dirt", "holder")
GEOMETRY: tuple[str, ...] = ("tilt", "perspective") + tuple(f"crop_{mode}" for mode in CROP_MODES)
EFFECT_KEYS: tuple[str, ...] = EFFECT_NAMES + EXTRAS + GEOMETRY
# Effects that light or compress the whole photo: in a scene they apply to all of it, not to the plate crop.
SCENE_WIDE: tuple[str, ...] = ("lighting", "cast", "low_light", "noise", "salt_pepper", "jpeg")


@dataclass(frozen=True)
class PlateSample:
    """One generated plate crop.

    Attributes:
        image: BGR uint8, the crop a plate box would give (background around the plate; loose,
            tight, off-centre or clipped).
        text: what is printed, ``0-9A-Z`` only, top row first; ``""`` for a crop without a plate.
        kind: ``"spanish"``, ``"spanish_old"``, ``"foreign"`` or ``"none"``.
        layout: the format (:data:`plateocr.plategen.texts.LAYOUTS`) or, for ``"none"``, what
            the crop shows (:data:`NEGATIVE_LAYOUTS`).
        family: the style family that drew it (:data:`plateocr.plategen.families.STYLE_FAMILIES`).
        corners: (4, 2) float32 plate corners (TL, TR, BR, BL) in ``image`` pixels; zeros for "none".
        tags: what was applied (glyph source, crop mode, extras, effects), for sheets and diagnostics.
    """

    image: np.ndarray
    text: str
    kind: str
    layout: str
    family: str
    corners: np.ndarray
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class PlateScene:
    """A whole generated photo: a plate crop pasted into a cluttered scene (or none).

    Attributes:
        image: BGR uint8 scene.
        text, kind, layout, family, tags: as in :class:`PlateSample`.
        plate_box: axis-aligned ``(x, y, w, h)`` of the plate's corners in scene pixels (None: no plate).
        corners: (4, 2) float32 plate corners in scene pixels; zeros when there is no plate.
        tilt: the in-plane rotation drawn, in degrees.
    """

    image: np.ndarray
    text: str
    kind: str
    layout: str
    family: str
    plate_box: Box | None
    corners: np.ndarray
    tilt: float = 0.0
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class GenConfig:
    """The class-balance knobs of the generator (what share of samples is of which kind).

    Attributes:
        kind_weights: relative weight of each kind.
        family_weights: relative weight of each style family.
        two_row_share: share of plates drawn as two-row squares (layouts that have a square form).
        chars74k_share: share of plates drawn with Chars74K glyphs when a bank is given (None:
            each family's own share, 12% truetype and 30% stroke, about 21% overall).
        plate_width: range of the plate's width in output pixels (drawn log-uniformly).
        strength: range of the degradation strength (None: each family's, 0.3-1.0); lower it for
            easier plates early in training.
    """

    kind_weights: Mapping[str, float] = field(
        default_factory=lambda: {"spanish": 0.62, "spanish_old": 0.07, "foreign": 0.19, "none": 0.12}
    )
    family_weights: Mapping[str, float] = field(default_factory=lambda: {"truetype": 0.5, "stroke": 0.5})
    two_row_share: float = 0.12
    chars74k_share: float | None = None
    plate_width: tuple[float, float] = (60.0, 320.0)
    strength: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        for name, weights, allowed in (
            ("kind", self.kind_weights, KINDS),
            ("family", self.family_weights, tuple(FAMILIES)),
        ):
            unknown = set(weights) - set(allowed)
            if unknown or not weights or min(weights.values()) < 0 or sum(weights.values()) <= 0:
                raise ValueError(
                    f"bad {name} weights {dict(weights)}; names from {list(allowed)}, non-negative, not all 0"
                )
        if not 0.0 <= self.two_row_share <= 1.0:
            raise ValueError(f"two_row_share must be in [0, 1], got {self.two_row_share}")
        if self.chars74k_share is not None and not 0.0 <= self.chars74k_share <= 1.0:
            raise ValueError(f"chars74k_share must be in [0, 1], got {self.chars74k_share}")
        low, high = self.plate_width
        if not 16 <= low <= high:
            raise ValueError(f"plate_width must be a range with 16 <= low <= high, got {self.plate_width}")
        if self.strength is not None and not 0.0 <= self.strength[0] <= self.strength[1] <= 2.0:
            raise ValueError(f"strength must be a range in [0, 2], got {self.strength}")


DEFAULT_CONFIG = GenConfig()


def _choose(rng: np.random.Generator, weights: Mapping[str, float]) -> str:
    names = list(weights)
    bounds = np.cumsum([weights[n] for n in names])
    return names[min(len(names) - 1, int(np.searchsorted(bounds, rng.uniform() * bounds[-1], side="right")))]


def choose_layout(rng: np.random.Generator, kind: str, two_row_share: float) -> Layout:
    """A layout of ``kind``: one-row formats equally likely, a square form with ``two_row_share``."""
    base = layouts_of(kind, two_rows=False)
    layout = base[int(rng.integers(0, len(base)))]
    square = LAYOUTS.get(f"{layout.name}_two_rows")
    if square is not None and rng.uniform() < two_row_share:
        return square
    return layout


def _effects(family: Family, override: Mapping[str, float] | None) -> dict[str, float]:
    probabilities = dict(family.effects)
    if override:
        unknown = set(override) - set(EFFECT_KEYS)
        if unknown:
            raise ValueError(f"unknown effects {sorted(unknown)}; choose from {list(EFFECT_KEYS)}")
        probabilities.update(override)
    return probabilities


def _log_uniform(rng: np.random.Generator, low: float, high: float) -> float:
    return float(math.exp(rng.uniform(math.log(low), math.log(max(low, high)))))


# --------------------------------------------------------------------------------------------
# Geometry: rotation, perspective, crop
# --------------------------------------------------------------------------------------------


def draw_tilt(
    rng: np.random.Generator,
    probabilities: Mapping[str, float],
    max_tilt: float,
    tilt: float | tuple[float, float] | None = None,
) -> tuple[float, float, float]:
    """(roll, yaw, pitch) in degrees. ``tilt``: an exact roll, or a range of its magnitude (random sign)."""
    large = rng.uniform() < probabilities.get("tilt", 0.0)
    roll = rng.uniform(-max_tilt, max_tilt) if large else float(np.clip(rng.normal(0, 3), -max_tilt, max_tilt))
    if isinstance(tilt, tuple):
        roll = rng.uniform(*tilt) * (1 if rng.uniform() < 0.5 else -1)
    elif tilt is not None:
        roll = float(tilt)
    if rng.uniform() < probabilities.get("perspective", 0.0):
        yaw, pitch = rng.uniform(-50, 50), rng.uniform(-35, 35)
    else:
        yaw, pitch = rng.normal(0, 5), rng.normal(0, 4)
    return roll, yaw, pitch


def plate_homography(
    corners: np.ndarray,
    size: tuple[int, int],
    plate_width: float,
    roll: float,
    yaw: float,
    pitch: float,
    focal: float,
) -> np.ndarray:
    """The homography taking a drawn plate image (``size`` = w, h) to a view in which the plate,
    turned by ``yaw``/``pitch`` in 3-D and seen with focal length ``focal`` (in plate widths), is
    about ``plate_width`` px wide (centred on the origin) and its mid-line (from the middle of its
    left edge to the middle of its right edge) makes exactly ``roll`` degrees with the x axis."""
    width, height = size
    src = np.array([[0, 0], [width, 0], [width, height], [0, height]], np.float32)
    centre = corners.mean(axis=0)
    scale = plate_width / max(1e-6, float(np.linalg.norm(corners[1] - corners[0])))
    points = (src - centre) * scale
    a, b = math.radians(yaw), math.radians(pitch)
    ry = np.array([[math.cos(a), 0, math.sin(a)], [0, 1, 0], [-math.sin(a), 0, math.cos(a)]])
    rx = np.array([[1, 0, 0], [0, math.cos(b), -math.sin(b)], [0, math.sin(b), math.cos(b)]])
    xyz = np.c_[points, np.zeros(4)] @ (rx @ ry).T
    f = focal * plate_width
    projected = xyz[:, :2] * (f / (f + xyz[:, 2:3]))
    # Yaw and pitch together skew the plate's mid-line; turn it so that the mid-line ends at ``roll``.
    seen = _transform_points(corners, cv2.getPerspectiveTransform(src, projected.astype(np.float32)))
    left, right = (seen[0] + seen[3]) / 2, (seen[1] + seen[2]) / 2
    r = math.radians(roll) - math.atan2(right[1] - left[1], right[0] - left[0])
    rotation = np.array([[math.cos(r), -math.sin(r)], [math.sin(r), math.cos(r)]])
    dst = projected @ rotation.T
    return cv2.getPerspectiveTransform(src, dst.astype(np.float32))


def crop_window(
    plate: np.ndarray, text: np.ndarray, mode: str, rng: np.random.Generator
) -> tuple[float, float, float, float]:
    """The crop (x0, y0, x1, y1) around the plate quad ``plate`` for a crop ``mode``; the text quad
    ``text`` always stays inside (a clipped crop cuts into the plate's margins, never its characters)."""
    px0, py0 = plate.min(axis=0)
    px1, py1 = plate.max(axis=0)
    tx0, ty0 = text.min(axis=0)
    tx1, ty1 = text.max(axis=0)
    unit = _edge_height(plate)
    if mode == "loose":
        margins = [rng.uniform(0.3, 1.2), rng.uniform(0.3, 1.0), rng.uniform(0.3, 1.2), rng.uniform(0.3, 1.0)]
    elif mode == "tight":
        margins = list(rng.uniform(-0.02, 0.04, size=4))
    elif mode == "off_centre":
        margins = list(rng.uniform(0.0, 0.12, size=4))
        for side in rng.choice(4, size=int(rng.integers(1, 3)), replace=False):
            margins[int(side)] = rng.uniform(0.5, 1.5)
    else:
        margins = list(rng.uniform(0.05, 0.25, size=4))
    box = [px0 - margins[0] * unit, py0 - margins[1] * unit, px1 + margins[2] * unit, py1 + margins[3] * unit]
    if mode == "clipped":
        # Cut one or two sides into the plate, up to its characters.
        limits = [(px0, tx0), (py0, ty0), (px1, tx1), (py1, ty1)]
        for side in rng.choice(4, size=int(rng.integers(1, 3)), replace=False):
            edge, inner = limits[int(side)]
            box[int(side)] = edge + (inner - edge) * rng.uniform(0.3, 0.95)
    # Never cut a character, whatever the mode.
    box = [min(box[0], tx0), min(box[1], ty0), max(box[2], tx1), max(box[3], ty1)]
    return box[0], box[1], box[2], box[3]


def plate_height(corners: np.ndarray, image: np.ndarray) -> float:
    """The plate's height in pixels (mean of its left and right edges); for no plate, a guess from the crop."""
    if not corners.any():
        return image.shape[0] / 1.5
    return _edge_height(corners)


def _edge_height(corners: np.ndarray) -> float:
    return float(np.linalg.norm(corners[3] - corners[0]) + np.linalg.norm(corners[2] - corners[1])) / 2


def _quad(box: tuple[float, float, float, float]) -> np.ndarray:
    x0, y0, x1, y1 = box
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], np.float32)


# --------------------------------------------------------------------------------------------
# Backgrounds
# --------------------------------------------------------------------------------------------


# Car paint, BGR: white, black, greys and silver, then blue, red, green, beige; the rest is any colour.
CAR_COLOURS: tuple[tuple[int, int, int], ...] = (
    (235, 235, 235),
    (25, 25, 25),
    (90, 90, 90),
    (150, 150, 150),
    (190, 190, 185),
    (130, 60, 20),
    (30, 30, 160),
    (40, 90, 40),
    (150, 190, 210),
)


def car_paint(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """A car-body patch: mostly usual car colours, sometimes any, shaded by a gradient (uint8 BGR)."""
    if rng.uniform() < 0.75:
        base = np.array(CAR_COLOURS[int(rng.integers(0, len(CAR_COLOURS)))], np.float32) + rng.uniform(-15, 15, size=3)
    else:
        base = rng.uniform(10, 230, size=3)
    small = base.astype(np.float32) * _smooth_field((8, 8), rng, rng.uniform(0.55, 0.95), 1.1)[..., None]
    return np.clip(cv2.resize(small, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR), 0, 255).astype(np.uint8)


def surround(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """What lies around a plate in its crop: bumper paint, a body edge, a grille, lights (uint8 BGR)."""
    height, width = shape
    canvas = car_paint(shape, rng)
    unit = max(height, width)
    if rng.uniform() < 0.5:  # a body or bumper edge across the crop
        y = int(rng.integers(0, height))
        tilt = int(rng.integers(-height // 4 - 1, height // 4 + 1))
        cv2.line(
            canvas,
            (0, y),
            (width, y + tilt),
            jittered_colour(rng, 0, 256, 40),
            max(1, int(unit * rng.uniform(0.01, 0.06))),
        )
    if rng.uniform() < 0.3:  # grille bars
        _stripes(canvas, rng)
    if rng.uniform() < 0.25:  # a light or a badge
        centre = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        cv2.ellipse(
            canvas,
            centre,
            (max(1, int(unit * rng.uniform(0.03, 0.2))), max(1, int(unit * rng.uniform(0.02, 0.1)))),
            float(rng.uniform(0, 180)),
            0,
            360,
            jittered_colour(rng, 0, 256, 60),
            -1,
        )
    return canvas


def _stripes(canvas: np.ndarray, rng: np.random.Generator) -> None:
    height, width = canvas.shape[:2]
    colour = jittered_colour(rng, 0, 120, 20)
    step = max(3, int(min(height, width) * rng.uniform(0.08, 0.3)))
    bar = max(1, int(step * rng.uniform(0.3, 0.7)))
    if rng.uniform() < 0.5:
        for y in range(int(rng.integers(0, step)), height, step):
            canvas[y : y + bar] = colour
    else:
        for x in range(int(rng.integers(0, step)), width, step):
            canvas[:, x : x + bar] = colour


def _negative_crop(rng: np.random.Generator, fam: Family, layout: str, width: float) -> tuple[np.ndarray, list[str]]:
    """A no-plate crop about as large as a plate ``width`` px wide would give, and its tags."""
    glyph, glyph_tag = fam.glyphs(rng)
    shape = (max(8, round(width / rng.uniform(1.5, 5.0))), max(16, round(width * rng.uniform(1.0, 1.5))))
    return _negative(rng, layout, shape, glyph), [glyph_tag]


def _negative(rng: np.random.Generator, layout: str, shape: tuple[int, int], glyph: GlyphFn) -> np.ndarray:
    """A crop with no plate in it (uint8 BGR)."""
    height, width = shape
    if layout == "noise":
        cells = (max(2, height // int(rng.integers(1, 8))), max(2, width // int(rng.integers(1, 8))))
        noise = rng.integers(0, 256, size=(*cells, 3), dtype=np.uint8)
        if rng.uniform() < 0.5:
            noise[:] = noise[..., :1]
        return cv2.resize(
            noise, (width, height), interpolation=cv2.INTER_NEAREST if rng.uniform() < 0.5 else cv2.INTER_LINEAR
        )
    if layout == "road":
        grey = np.full((height, width, 3), int(rng.integers(50, 140)), np.uint8)
        grain = rng.normal(0, rng.uniform(5, 25), size=(height, width, 1)).astype(np.float32)
        canvas = np.clip(grey + grain, 0, 255).astype(np.uint8)
        if rng.uniform() < 0.7:
            x = int(rng.integers(0, width))
            cv2.line(
                canvas,
                (x, 0),
                (x + int(rng.integers(-width // 2 - 1, width // 2 + 1)), height),
                jittered_colour(rng, 180, 250, 10),
                max(1, int(width * rng.uniform(0.03, 0.1))),
            )
        return canvas
    canvas = surround(shape, rng)
    if layout == "grille":
        _stripes(canvas, rng)
    elif layout == "text":
        # A sign, sticker or dealer badge: dark words on a light panel, the hardest non-plate.
        x0, y0 = rng.uniform(0, 0.2) * width, rng.uniform(0, 0.25) * height
        x1, y1 = width - rng.uniform(0, 0.2) * width, height - rng.uniform(0, 0.25) * height
        cv2.rectangle(canvas, (int(x0), int(y0)), (int(x1), int(y1)), jittered_colour(rng, 170, 256, 20), -1)
        mask = np.zeros(shape, np.uint8)
        words = dealer_text(rng).split(" ")
        parts: list[str] = []
        for word in words:
            parts += ([GAP] if parts else []) + [word]
        style = Style(aspect=1, paper=(0, 0, 0), ink=(0, 0, 0), glyph=glyph, glyph_tag="", spacing=0.1, gap=0.5)
        draw_row(
            mask, tuple(parts), glyph, (x0 + 2, y0 + 1, x1 - 2, y1 - 1), (y1 - y0) * rng.uniform(0.35, 0.7), style, rng
        )
        composite(canvas, mask, jittered_colour(rng, 0, 90, 30))
    return canvas


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------


def _glyph_source(
    family: Family, rng: np.random.Generator, glyphs: GlyphBank | None, share: float | None
) -> tuple[GlyphFn, str]:
    chars74k = rng.uniform() < (family.chars74k_share if share is None else share)
    if glyphs is not None and chars74k:
        return chars74k_glyphs(glyphs, rng)
    return family.glyphs(rng)


def _resolve(
    rng: np.random.Generator, family: str | None, kind: str | None, layout: str | None, cfg: GenConfig
) -> tuple[Family, str, Layout | None, str]:
    family_name = family if family is not None else _choose(rng, cfg.family_weights)
    if family_name not in FAMILIES:
        raise ValueError(f"unknown style family {family_name!r}; choose from {list(FAMILIES)}")
    if layout is not None:
        if layout in LAYOUTS:
            chosen = LAYOUTS[layout]
            return FAMILIES[family_name], chosen.kind, chosen, layout
        if layout in NEGATIVE_LAYOUTS:
            return FAMILIES[family_name], "none", None, layout
        raise ValueError(f"unknown layout {layout!r}; choose from {list(LAYOUTS) + list(NEGATIVE_LAYOUTS)}")
    kind_name = kind if kind is not None else _choose(rng, cfg.kind_weights)
    if kind_name not in KINDS:
        raise ValueError(f"unknown kind {kind_name!r}; choose from {list(KINDS)}")
    if kind_name == "none":
        return FAMILIES[family_name], "none", None, NEGATIVE_LAYOUTS[int(rng.integers(0, len(NEGATIVE_LAYOUTS)))]
    chosen = choose_layout(rng, kind_name, cfg.two_row_share)
    return FAMILIES[family_name], kind_name, chosen, chosen.name


def _render_crop(
    rng: np.random.Generator,
    fam: Family,
    layout: Layout,
    probabilities: Mapping[str, float],
    plate_width: float,
    max_tilt: float,
    tilt: float | tuple[float, float] | None,
    glyphs: GlyphBank | None,
    cfg: GenConfig,
    crop_mode: str | None = None,
    style_overrides: Mapping[str, Any] | None = None,
) -> tuple[np.ndarray, np.ndarray, str, float, list[str]]:
    """The clean crop around a drawn plate: (crop uint8, corners, text, roll, tags)."""
    glyph, glyph_tag = _glyph_source(fam, rng, glyphs, cfg.chars74k_share)
    printed = layout.printed(rng)
    style = fam.style(layout, glyph, glyph_tag, rng)
    if style_overrides:
        style = dataclasses.replace(style, **style_overrides)
    draw_width = int(round(np.clip(plate_width * rng.uniform(1.0, 1.3), 40, 480)))
    drawn = draw_plate(printed, layout, style, draw_width, rng, probabilities)
    roll, yaw, pitch = draw_tilt(rng, probabilities, max_tilt, tilt)
    matrix = plate_homography(
        drawn.corners,
        (drawn.image.shape[1], drawn.image.shape[0]),
        plate_width,
        roll,
        yaw,
        pitch,
        _log_uniform(rng, 0.8, 4.0),
    )
    corners = _transform_points(drawn.corners, matrix)
    text_quad = _transform_points(_quad(drawn.text_box), matrix)
    if crop_mode is None:
        crop_mode = "normal"
        for mode in CROP_MODES:
            if rng.uniform() < probabilities.get(f"crop_{mode}", 0.0):
                crop_mode = mode
                break
    x0, y0, x1, y1 = crop_window(corners, text_quad, crop_mode, rng)
    x0, y0 = math.floor(x0), math.floor(y0)
    width, height = max(8, math.ceil(x1) - x0), max(8, math.ceil(y1) - y0)
    shift = np.array([[1, 0, -x0], [0, 1, -y0], [0, 0, 1]], np.float64)
    crop = surround((height, width), rng)
    cv2.warpPerspective(
        drawn.image,
        shift @ matrix,
        (width, height),
        dst=crop,
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_TRANSPARENT,
    )
    tags = [f"crop:{crop_mode}", f"roll:{roll:.1f}", f"yaw:{yaw:.0f}", f"pitch:{pitch:.0f}", *drawn.tags]
    return crop, corners - np.array([x0, y0], np.float32), printed.text, roll, tags


def sample_plate(
    rng: np.random.Generator,
    *,
    family: str | None = None,
    kind: str | None = None,
    layout: str | None = None,
    glyphs: GlyphBank | None = None,
    max_tilt: float = 30.0,
    tilt: float | tuple[float, float] | None = None,
    plate_width: float | None = None,
    effects: Mapping[str, float] | None = None,
    crop: str | None = None,
    style: Mapping[str, Any] | None = None,
    config: GenConfig = DEFAULT_CONFIG,
) -> PlateSample:
    """One plate crop, every choice drawn from ``rng`` (same seed, same bytes).

    Args:
        rng: the random generator.
        family: a style family (None: drawn by ``config.family_weights``).
        kind: ``spanish``, ``spanish_old``, ``foreign`` or ``none`` (None: by ``config.kind_weights``).
        layout: a specific layout (overrides ``kind``), e.g. ``"fr_two_rows"`` or ``"noise"``.
        glyphs: a Chars74K bank; without one no plate uses Chars74K glyphs.
        max_tilt: bound of the in-plane rotation, degrees.
        tilt: an exact rotation, or a range of its magnitude (e.g. ``(15, 30)``).
        plate_width: the plate's width in output pixels (None: log-uniform in ``config.plate_width``).
        effects: probabilities overriding the family's (keys: :data:`EFFECT_KEYS`).
        crop: force a crop mode (``normal`` or one of :data:`CROP_MODES`).
        style: fields of :class:`plateocr.plategen.render.Style` to force, e.g. ``{"stroke": 2}``.
        config: the class-balance knobs.
    """
    if crop is not None and crop not in ("normal",) + CROP_MODES:
        raise ValueError(f"unknown crop mode {crop!r}; choose from {['normal', *CROP_MODES]}")
    fam, kind_name, chosen, layout_name = _resolve(rng, family, kind, layout, config)
    probabilities = _effects(fam, effects)
    width = plate_width if plate_width is not None else _log_uniform(rng, *config.plate_width)
    strength = rng.uniform(*(config.strength or fam.strength))
    if chosen is None:
        image, tags = _negative_crop(rng, fam, layout_name, width)
        text, corners = "", np.zeros((4, 2), np.float32)
    else:
        image, corners, text, _, tags = _render_crop(
            rng, fam, chosen, probabilities, width, max_tilt, tilt, glyphs, config, crop, style
        )
    image, applied = apply_effects(image, rng, probabilities, strength, plate_height(corners, image))
    labels = {"text": text, "kind": kind_name, "layout": layout_name, "family": fam.name, "tags": tuple(tags + applied)}
    return PlateSample(image=image, corners=corners.astype(np.float32), **labels)


def _fit_crop(crop: np.ndarray, corners: np.ndarray, limit: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Trim a loose crop's margins to at most ``limit`` (h, w), keeping the plate; ValueError if the plate is larger."""
    height, width = crop.shape[:2]
    max_h, max_w = limit
    if height <= max_h and width <= max_w:
        return crop, corners
    (qx0, qy0), (qx1, qy1) = np.floor(corners.min(axis=0)), np.ceil(corners.max(axis=0))
    if qx1 - qx0 > max_w or qy1 - qy0 > max_h:
        raise ValueError(f"a plate of {qx1 - qx0:.0f}x{qy1 - qy0:.0f} px does not fit a {max_w}x{max_h} window")
    new_w, new_h = min(width, max_w), min(height, max_h)
    x0 = int(np.clip((qx0 + qx1 - new_w) / 2, 0, width - new_w))
    y0 = int(np.clip((qy0 + qy1 - new_h) / 2, 0, height - new_h))
    return crop[y0 : y0 + new_h, x0 : x0 + new_w], corners - np.array([x0, y0], np.float32)


def sample_scene(
    rng: np.random.Generator,
    *,
    family: str | None = None,
    kind: str | None = None,
    layout: str | None = None,
    canvas: tuple[int, int] = (416, 416),
    plate_width: float | None = None,
    tilt: float | tuple[float, float] | None = None,
    glyphs: GlyphBank | None = None,
    max_tilt: float = 30.0,
    effects: Mapping[str, float] | None = None,
    config: GenConfig = DEFAULT_CONFIG,
) -> PlateScene:
    """A whole photo (``canvas`` = height, width): a loose plate crop pasted in a cluttered scene.

    Light, colour, sensor noise and JPEG apply to the whole photo; blur, glare and shadows to the
    plate's surroundings (margins trimmed to fit the canvas). A ``none`` scene has no plate
    (``plate_box`` None) but a sign, grille, road or noise patch where one could be. ``plate_width``
    None draws one log-uniformly in [60, min(400, 0.45 * canvas width)].

    Raises:
        ValueError: the plate itself does not fit the canvas.
    """
    height, width = canvas
    fam, kind_name, chosen, layout_name = _resolve(rng, family, kind, layout, config)
    probabilities = _effects(fam, effects)
    strength = rng.uniform(*(config.strength or fam.strength))
    image = _scene_background((height, width), rng)
    plate_w = plate_width if plate_width is not None else _log_uniform(rng, 60.0, min(400.0, 0.45 * width))
    local = {k: (0.0 if k in SCENE_WIDE else v) for k, v in probabilities.items()}
    text, corners, box, roll, tags = "", np.zeros((4, 2), np.float32), None, 0.0, []
    if chosen is not None:
        crop, crop_corners, text, roll, tags = _render_crop(
            rng, fam, chosen, local, plate_w, max_tilt, tilt, glyphs, config, crop_mode="loose"
        )
        crop, crop_corners = _fit_crop(crop, crop_corners, (height - 1, width - 1))
    else:
        # A sign, grille or patch of road where a plate could be: the no-plate scene's hard part.
        crop, tags = _negative_crop(rng, fam, layout_name, plate_w)
        crop_corners = np.zeros((4, 2), np.float32)
    crop, applied = apply_effects(crop, rng, local, strength, plate_height(crop_corners, crop))
    tags += applied
    ch, cw = crop.shape[:2]
    if cw >= width or ch >= height:
        raise ValueError(f"a crop of {cw}x{ch} px does not fit a {width}x{height} canvas")
    x0, y0 = int(rng.integers(0, width - cw)), int(rng.integers(0, height - ch))
    image[y0 : y0 + ch, x0 : x0 + cw] = crop
    if chosen is not None:
        corners = crop_corners + np.array([x0, y0], np.float32)
        box = _corners_box(np.clip(corners, 0, [width, height]))
    scene = {k: (v if k in SCENE_WIDE else 0.0) for k, v in probabilities.items()}
    image, applied = apply_effects(
        image, rng, scene, strength * 0.7, plate_height(corners, image), jpeg_quality=(50, 95)
    )
    labels = {"text": text, "kind": kind_name, "layout": layout_name, "family": fam.name, "tags": tuple(tags + applied)}
    return PlateScene(image=image, plate_box=box, corners=corners.astype(np.float32), tilt=roll, **labels)
