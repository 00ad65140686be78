"""Drawing a clean plate in one of the style families, at a small working resolution.

A family decides the look (proportions, palette, bands, border, glyph source, spacing); the
drawing itself is shared: bands, rows of glyph masks pasted into one ink mask, stroke width
(erode/dilate), ink composite, border, seals, screws, dirt and an optional plate holder (frame)
with dealer lettering. Everything is drawn at about the output size: glyphs come from caches
(:mod:`plateocr.plategen.glyphs`) and are only resized.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import cv2
import numpy as np

from plateocr.plategen import glyphs as glyphlib
from plateocr.plategen.texts import DASH, DOT, GAP, SEAL, Layout, Printed
from plateocr.synth import _dirt, _star_polygon

GlyphFn = Callable[[str], np.ndarray]
Colour = tuple[int, int, int]

EU_BLUE = (153, 51, 0)  # BGR
EU_YELLOW = (0, 204, 255)
PT_YELLOW = (0, 200, 250)
GB_YELLOW = (20, 205, 250)
DEALER_WORDS: tuple[str, ...] = (
    "AUTOS",
    "MOTOR",
    "GARAJE",
    "TALLERES",
    "CONCESIONARIO",
    "AUTOMOCION",
    "MADRID",
    "SEVILLA",
    "VALENCIA",
    "BARCELONA",
    "MALAGA",
    "BILBAO",
    "SEAT",
    "RENAULT",
    "PEUGEOT",
    "FORD",
    "TOYOTA",
    "CITROEN",
    "OPEL",
    "KIA",
    "DACIA",
    "MOTORS",
    "CARS",
    "SERVICE",
    "WWW",
    "COM",
    "ES",
    "TEL",
    "S.L.",
)


@dataclass(frozen=True)
class Band:
    """A coloured strip at one end of the plate: the EU band (stars + country) or a region/year strip."""

    side: str  # "left" | "right"
    width: float  # fraction of the plate width
    colour: Colour
    label: str = ""
    ring: str = ""  # "stars" | "dots" | ""


@dataclass(frozen=True)
class Style:
    """How one plate looks; drawn by a family's ``style`` function."""

    aspect: float  # width / height of the plate
    paper: Colour
    ink: Colour
    glyph: GlyphFn
    glyph_tag: str
    bands: tuple[Band, ...] = ()
    border: int = 0  # px at 100 px plate height; 0 = none
    border_colour: Colour = (20, 20, 20)
    radius: float = 0.06  # corner radius, fraction of the height
    char_height: float = 0.7  # fraction of the plate (one row) or of a row's share (two rows)
    spacing: float = 0.1  # between characters, fraction of the character height
    gap: float = 0.35  # between groups, fraction of the character height
    digit_aspect: float = 0.55  # a "0"'s width / height once squeezed
    mono: bool = False  # every character in a cell of one width
    stroke: int = 0  # <0 erode, >0 dilate the ink mask (px at 40 px character height)
    label_glyph: GlyphFn | None = None
    tags: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class DrawnPlate:
    """A plate drawn in its own pixel frame (maybe inside a holder).

    Attributes:
        image: BGR uint8 (the plate, plus the holder when there is one).
        corners: (4, 2) float32 plate corners (TL, TR, BR, BL) in ``image`` pixels.
        text_box: (x0, y0, x1, y1) bounds of every plate character in ``image`` pixels.
        tags: what was drawn (font, holder, screws...).
    """

    image: np.ndarray
    corners: np.ndarray
    text_box: tuple[float, float, float, float]
    tags: tuple[str, ...]


def jittered_colour(rng: np.random.Generator, low: int, high: int, jitter: int = 0) -> Colour:
    base = int(rng.integers(low, high))
    return near_colour((base, base, base), jitter, rng)


def near_colour(base: Colour, jitter: int, rng: np.random.Generator) -> Colour:
    """``base`` with each channel moved by up to ``jitter`` levels."""
    channels = np.clip(np.array(base) + rng.integers(-jitter, jitter + 1, size=3), 0, 255).tolist()
    return (channels[0], channels[1], channels[2])


def _fit_glyph(mask: np.ndarray, width: int, height: int) -> np.ndarray:
    interpolation = cv2.INTER_AREA if mask.shape[0] > height else cv2.INTER_LINEAR
    return cv2.resize(mask, (max(1, width), max(1, height)), interpolation=interpolation)


def _paste(canvas: np.ndarray, mask: np.ndarray, x: int, y: int) -> None:
    """np.maximum ``mask`` into ``canvas`` at (x, y), clipped to the canvas."""
    h, w = mask.shape
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, canvas.shape[1]), min(y + h, canvas.shape[0])
    if x1 > x0 and y1 > y0:
        region = canvas[y0:y1, x0:x1]
        np.maximum(region, mask[y0 - y : y1 - y, x0 - x : x1 - x], out=region)


def draw_row(
    canvas: np.ndarray,
    parts: tuple[str, ...],
    glyph: GlyphFn,
    box: tuple[float, float, float, float],
    char_h: float,
    style: Style,
    rng: np.random.Generator,
) -> tuple[list[tuple[int, int, int, int]], list[tuple[float, float, float]]]:
    """Draw one row of groups into the ink mask ``canvas``, centred in ``box`` (x0, y0, x1, y1).

    Returns the characters' boxes (x, y, w, h) and the separators' marks (kind, x-centre, width) so
    that seals can be painted and screws put in the gaps.
    """
    x0, y0, x1, y1 = box
    height = max(3, round(min(char_h, y1 - y0)))
    spacing = style.spacing * height
    cell = style.digit_aspect * height
    items: list[tuple[str, float, np.ndarray | None]] = []
    for part in parts:
        if part in (GAP, DASH, DOT, SEAL):
            width = {GAP: style.gap, DASH: style.gap + 0.3, DOT: style.gap * 0.6 + 0.15, SEAL: style.gap + 0.45}[part]
            items.append((part, width * height, None))
            continue
        for char in part:
            mask = glyph(char)
            zero = glyph("0")
            natural = mask.shape[1] / mask.shape[0] * style.digit_aspect / (zero.shape[1] / zero.shape[0])
            width = min(natural, style.digit_aspect * 1.25) * height
            items.append((char, cell if style.mono else width, mask))
    chars = sum(1 for _, _, mask in items if mask is not None)
    total = sum(w for _, w, _ in items) + spacing * max(0, chars - 1)
    squeeze = min(1.0, (x1 - x0) / max(total, 1.0))
    x = x0 + (x1 - x0 - total * squeeze) / 2
    top = round(y0 + (y1 - y0 - height) / 2)
    boxes, marks = [], []
    for kind, width, mask in items:
        width *= squeeze
        if mask is None:
            marks.append((kind, x + width / 2, width))
            x += width
            continue
        natural_w = min(mask.shape[1] / mask.shape[0] * height, width) if style.mono else width
        ink_w = max(1, round(natural_w))
        left = round(x + (width - ink_w) / 2)
        _paste(canvas, _fit_glyph(mask, ink_w, height), left, top)
        boxes.append((left, top, ink_w, height))
        x += width + spacing * squeeze
    for kind, centre, width in marks:
        if kind == DASH:
            bar_w, bar_h = max(2, round(width * 0.5)), max(1, round(height * 0.1))
            cv2.rectangle(
                canvas,
                (round(centre - bar_w / 2), top + height // 2 - bar_h // 2),
                (round(centre + bar_w / 2), top + height // 2 + (bar_h + 1) // 2 - 1),
                255,
                -1,
            )
        elif kind == DOT:
            dot = max(1, round(height * 0.1))
            cv2.rectangle(
                canvas, (round(centre - dot / 2), top + height - dot), (round(centre + dot / 2), top + height), 255, -1
            )
    return boxes, marks


def _draw_band(image: np.ndarray, band: Band, style: Style, rng: np.random.Generator) -> tuple[int, int]:
    """Paint ``band`` and return the x-range it covers."""
    height, width = image.shape[:2]
    band_w = max(2, round(band.width * width))
    x0 = 0 if band.side == "left" else width - band_w
    cv2.rectangle(image, (x0, 0), (x0 + band_w - 1, height - 1), band.colour, -1)
    if band.ring:
        cx, cy, radius = x0 + band_w / 2, height * 0.32, min(band_w * 0.32, height * 0.2)
        for k in range(12):
            angle = k * math.pi / 6
            px, py = cx + radius * math.cos(angle), cy + radius * math.sin(angle)
            if band.ring == "stars" and radius > 4:
                star = np.array(_star_polygon(px, py, max(1.0, radius * 0.22)), np.float32)
                cv2.fillPoly(image, [np.round(star * 4).astype(np.int32)], EU_YELLOW, cv2.LINE_AA, shift=2)
            else:
                cv2.circle(
                    image, (round(px * 4), round(py * 4)), max(2, round(radius * 0.6)), EU_YELLOW, -1, cv2.LINE_AA, 2
                )
    if band.label:
        mask = np.zeros((height, band_w), np.uint8)
        label_h = max(3, round(min(height * 0.28, band_w * 0.75 / max(1, len(band.label)) / 0.6)))
        glyph = style.label_glyph or style.glyph
        draw_row(
            mask,
            (band.label,),
            glyph,
            (band_w * 0.1, height * 0.55, band_w * 0.9, height * 0.95),
            label_h,
            Style(aspect=1, paper=(0, 0, 0), ink=(0, 0, 0), glyph=glyph, glyph_tag="", spacing=0.08),
            rng,
        )
        composite(image[:, x0 : x0 + band_w], mask, (255, 255, 255))
    return x0, x0 + band_w


def composite(image: np.ndarray, mask: np.ndarray, colour: Colour) -> None:
    """Blend ``colour`` into ``image`` through the uint8 ``mask``, in place (only where there is ink)."""
    x0, y0, w, h = cv2.boundingRect(mask)
    if w == 0:
        return
    x1, y1 = x0 + w, y0 + h
    region = image[y0:y1, x0:x1].astype(np.float32)
    alpha = mask[y0:y1, x0:x1, None].astype(np.float32) / 255.0
    image[y0:y1, x0:x1] = (region + (np.array(colour, np.float32) - region) * alpha + 0.5).astype(np.uint8)


def _stroke(mask: np.ndarray, amount: int, char_h: float) -> np.ndarray:
    """Thicken (amount > 0) or thin (< 0) the strokes, scaled to the character height."""
    pixels = round(abs(amount) * char_h / 40.0)
    if pixels == 0:
        return mask
    kernel = np.ones((pixels + 1, pixels + 1), np.uint8)
    return cv2.dilate(mask, kernel) if amount > 0 else cv2.erode(mask, kernel)


def _screws(image: np.ndarray, spots: list[tuple[float, float]], radius: float, rng: np.random.Generator) -> None:
    metal = jittered_colour(rng, 110, 220, 15)
    for cx, cy in spots:
        centre = (round(cx * 4), round(cy * 4))
        r = max(1, round(radius * 4))
        cv2.circle(image, centre, r, metal, -1, cv2.LINE_AA, 2)
        cv2.circle(image, centre, r, tuple(int(c * 0.5) for c in metal), 1, cv2.LINE_AA, 2)
        if radius >= 2.5:
            angle = rng.uniform(0, math.pi)
            dx, dy = math.cos(angle) * r * 0.7, math.sin(angle) * r * 0.7
            cv2.line(
                image,
                (round(centre[0] - dx), round(centre[1] - dy)),
                (round(centre[0] + dx), round(centre[1] + dy)),
                (40, 40, 40),
                max(1, round(radius * 0.3)),
                cv2.LINE_AA,
                2,
            )


def dealer_text(rng: np.random.Generator) -> str:
    """Lettering a dealer prints on a plate holder: a name, a town, a phone number or a web address."""
    words = [DEALER_WORDS[int(i)] for i in rng.integers(0, len(DEALER_WORDS), size=int(rng.integers(1, 4)))]
    if rng.uniform() < 0.4:
        words.append("".join(str(int(d)) for d in rng.integers(0, 10, size=9)))
    return " ".join(words).replace(".", "")


def _holder(
    plate: np.ndarray, rng: np.random.Generator, glyph: GlyphFn
) -> tuple[np.ndarray, tuple[int, int], list[str]]:
    """Put the plate in a holder (a frame a little larger) with dealer lettering on its wide side."""
    height, width = plate.shape[:2]
    side = max(1, round(height * rng.uniform(0.04, 0.12)))
    wide = max(side + 2, round(height * rng.uniform(0.22, 0.4)))
    lettering_on_top = rng.uniform() < 0.25
    top, bottom = (wide, side) if lettering_on_top else (side, wide)
    frame_colour = jittered_colour(rng, 0, 60, 8) if rng.uniform() < 0.6 else jittered_colour(rng, 30, 230, 60)
    holder = np.empty((height + top + bottom, width + 2 * side, 3), np.uint8)
    holder[:] = frame_colour
    holder[top : top + height, side : side + width] = plate
    strip_y = 0 if lettering_on_top else top + height
    mask = np.zeros(holder.shape[:2], np.uint8)
    text = dealer_text(rng)
    style = Style(aspect=1, paper=(0, 0, 0), ink=(0, 0, 0), glyph=glyph, glyph_tag="", spacing=0.12, gap=0.5)
    draw_row(
        mask,
        tuple(word if word else GAP for word in _spaced(text)),
        glyph,
        (side + width * 0.05, strip_y + wide * 0.15, side + width * 0.95, strip_y + wide * 0.85),
        wide * 0.6,
        style,
        rng,
    )
    lettering = (235, 235, 235) if sum(frame_colour) < 300 else (20, 20, 20)
    if rng.uniform() < 0.2:
        lettering = (40, 180, 215)  # gold
    composite(holder, mask, lettering)
    return holder, (side, top), ["holder", "dealer_lettering"]


def _spaced(text: str) -> list[str]:
    out: list[str] = []
    for word in text.split(" "):
        if out:
            out.append(GAP)
        out.append(word)
    return out


def draw_plate(
    printed: Printed,
    layout: Layout,
    style: Style,
    width: int,
    rng: np.random.Generator,
    extras: dict[str, float],
) -> DrawnPlate:
    """Draw ``printed`` on a plate ``width`` px wide in ``style``.

    ``extras`` gives the probability of "screws", "dirt" and "holder" (frame + dealer lettering).
    """
    height = max(8, round(width / style.aspect))
    image = np.empty((height, width, 3), np.uint8)
    image[:] = style.paper
    left, right = 0.0, float(width)
    for band in style.bands:
        bx0, bx1 = _draw_band(image, band, style, rng)
        if band.side == "left":
            left = bx1
        else:
            right = bx0
    margin_x = height * (0.06 if layout.two_rows else 0.08)
    margin_y = height * (0.07 if layout.two_rows else 0.12)
    area = (left + margin_x, margin_y, right - margin_x, height - margin_y)
    mask = np.zeros((height, width), np.uint8)
    rows = printed.rows
    row_h = (area[3] - area[1]) / len(rows)
    char_h = row_h * (style.char_height if len(rows) == 1 else min(0.95, style.char_height + 0.15))
    boxes, marks = [], []
    for index, parts in enumerate(rows):
        row_box = (area[0], area[1] + index * row_h, area[2], area[1] + (index + 1) * row_h)
        row_boxes, row_marks = draw_row(mask, parts, style.glyph, row_box, char_h, style, rng)
        boxes += row_boxes
        marks += [(kind, centre, width_, row_box) for kind, centre, width_ in row_marks]
    mask = _stroke(mask, style.stroke, char_h)
    composite(image, mask, style.ink)
    tags = list(style.tags) + [style.glyph_tag]
    for kind, centre, mark_w, row_box in marks:
        if kind == SEAL:
            cy = (row_box[1] + row_box[3]) / 2
            radius = max(1.0, min(mark_w * 0.35, char_h * 0.2))
            for dy, colour in ((-radius * 1.2, (60, 60, 200)), (radius * 1.2, (150, 90, 30))):
                cv2.circle(
                    image, (round(centre * 4), round((cy + dy) * 4)), round(radius * 4), colour, -1, cv2.LINE_AA, 2
                )
    if style.border:
        thickness = max(1, round(style.border * height / 100))
        radius = style.radius * height
        _rounded_rectangle(image, thickness, radius, style.border_colour)
    if rng.uniform() < extras.get("screws", 0.0):
        gaps = [(centre, (row_box[1] + row_box[3]) / 2) for kind, centre, _, row_box in marks if kind == GAP]
        spots = (
            gaps[:2]
            if gaps and rng.uniform() < 0.5
            else [(width * 0.12 + left * 0.5, height * 0.5), (width * 0.88, height * 0.5)]
        )
        _screws(image, spots, max(1.0, height * rng.uniform(0.04, 0.08)), rng)
        tags.append("screws")
    if rng.uniform() < extras.get("dirt", 0.0):
        image = np.clip(_dirt(image.astype(np.float32), rng, rng.uniform(0.4, 1.0)), 0, 255).astype(np.uint8)
        tags.append("dirt")
    offset = (0, 0)
    if rng.uniform() < extras.get("holder", 0.0):
        image, offset, holder_tags = _holder(image, rng, style.label_glyph or style.glyph)
        tags += holder_tags
    ox, oy = offset
    corners = np.array([[ox, oy], [ox + width, oy], [ox + width, oy + height], [ox, oy + height]], np.float32)
    xs = [b[0] for b in boxes] + [b[0] + b[2] for b in boxes]
    ys = [b[1] for b in boxes] + [b[1] + b[3] for b in boxes]
    text_box = (min(xs) + ox, min(ys) + oy, max(xs) + ox, max(ys) + oy)
    return DrawnPlate(image=image, corners=corners, text_box=text_box, tags=tuple(tags))


def _rounded_rectangle(image: np.ndarray, thickness: int, radius: float, colour: Colour) -> None:
    height, width = image.shape[:2]
    inset = thickness / 2
    r = max(0.0, min(radius, height / 3) - inset)
    x0, y0, x1, y1 = inset, inset, width - 1 - inset, height - 1 - inset
    points = []
    for cx, cy, start in ((x1 - r, y0 + r, -90), (x1 - r, y1 - r, 0), (x0 + r, y1 - r, 90), (x0 + r, y0 + r, 180)):
        for k in range(5):
            angle = math.radians(start + k * 22.5)
            points.append((cx + r * math.cos(angle), cy + r * math.sin(angle)))
    polygon = np.round(np.array(points) * 4).astype(np.int32)
    cv2.polylines(image, [polygon], True, colour, thickness, cv2.LINE_AA, 2)


# --------------------------------------------------------------------------------------------
# Glyph sources
# --------------------------------------------------------------------------------------------


def truetype_glyphs(rng: np.random.Generator) -> tuple[GlyphFn, str]:
    fonts = glyphlib.find_fonts()
    path = str(fonts[int(rng.integers(0, len(fonts)))])
    return (lambda char: _checked(glyphlib.truetype_mask(path, char), char)), "font:" + path.rsplit("/", 1)[-1]


def _checked(mask: np.ndarray | None, char: str) -> np.ndarray:
    if mask is None:
        raise ValueError(f"no glyph for {char!r}")
    return mask


def hershey_glyphs(rng: np.random.Generator) -> tuple[GlyphFn, str]:
    face = glyphlib.HERSHEY_FACES[int(rng.integers(0, len(glyphlib.HERSHEY_FACES)))]
    thickness = glyphlib.HERSHEY_THICKNESS[int(rng.integers(0, len(glyphlib.HERSHEY_THICKNESS)))]
    italic = bool(rng.uniform() < 0.15)
    return (
        lambda char: glyphlib.hershey_mask(face, thickness, italic, char)
    ), f"hershey:{face}/{thickness}{'i' if italic else ''}"


def chars74k_glyphs(bank: glyphlib.GlyphBank, rng: np.random.Generator) -> tuple[GlyphFn, str]:
    """Each character of the plate drawn from Chars74K; a character repeated on the plate reuses its crop."""
    chosen: dict[str, np.ndarray] = {}

    def glyph(char: str) -> np.ndarray:
        if char not in chosen:
            chosen[char] = bank.pick(char, rng)
        return chosen[char]

    return glyph, "chars74k"
