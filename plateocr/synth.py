"""Synthetic Spanish licence plates: random text, clean renderings, degradations and cluttered scenes.

Everything random is drawn from the ``numpy.random.Generator`` passed in, so the same seed gives
byte-identical images (on the same machine, with the same fonts installed). Fonts come from Debian
font packages (``FONT_PACKAGES``); no font file is shipped with the project.

Boxes are ``(x, y, w, h)`` in image pixels; corners are ``(4, 2)`` float arrays ordered top-left,
top-right, bottom-right, bottom-left.
"""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

import config
from plateocr.errors import SetupError

logger = logging.getLogger(__name__)

Box = tuple[int, int, int, int]

# Debian packages that provide the fonts below (the Makefile and CI apt-get install them).
FONT_PACKAGES: tuple[str, ...] = (
    "fonts-opendin",
    "fonts-roboto-unhinted",
    "fonts-liberation",
    "fonts-urw-base35",
    "fonts-dejavu-core",
)
# Narrow, bold-ish sans fonts, closest to the Spanish plate lettering (a narrow DIN-like face) first.
FONT_FILES: tuple[str, ...] = (
    "OSP-DIN.ttf",
    "RobotoCondensed-Bold.ttf",
    "RobotoCondensed-Medium.ttf",
    "LiberationSansNarrow-Bold.ttf",
    "NimbusSansNarrow-Bold.otf",
    "DejaVuSansCondensed-Bold.ttf",
)
FONT_DIR = Path("/usr/share/fonts")

# Plate geometry in millimetres; rendering uses PX_PER_MM pixels per millimetre.
PX_PER_MM = 1.0
ONE_ROW_MM = (520, 110)
TWO_ROW_MM = (280, 200)
BAND_MM = 42  # the blue EU band, ~8% of a one-row plate
EU_BLUE_RGB = (0, 51, 153)
EU_YELLOW_RGB = (255, 204, 0)
# Width of a "0" divided by its height on Spanish plates; every font is squeezed to match it.
DIGIT_ASPECT = 0.58
GLYPH_SIZE = 160  # font size at which glyphs are rasterised before being resized to their box
# Extra space between the digits and the letters of a one-row plate, as a fraction of the character height.
LETTER_GAP = 0.34


@dataclass(frozen=True)
class RenderedPlate:
    """A clean plate rendering.

    Attributes:
        image: BGR uint8 image of the whole plate.
        char_boxes: one ``(x, y, w, h)`` ink box per character, left to right (top row first).
        text: the plate text without spaces, e.g. ``"1234BCD"``.
    """

    image: np.ndarray
    char_boxes: list[Box]
    text: str


@dataclass(frozen=True)
class DegradedPlate:
    """A plate after :func:`degrade_plate`: boxes and corners follow the geometric warp.

    Attributes:
        image: BGR uint8 image (the warped plate with a little background around it).
        char_boxes: axis-aligned bounds of each warped character box.
        corners: ``(4, 2)`` float32 plate corners in ``image`` pixels.
        text: the plate text.
    """

    image: np.ndarray
    char_boxes: list[Box]
    corners: np.ndarray
    text: str


@dataclass(frozen=True)
class Scene:
    """A degraded plate pasted into a cluttered, generated background.

    Attributes:
        image: BGR uint8 scene.
        text: the plate text.
        plate_box: axis-aligned bounds ``(x, y, w, h)`` of the plate's corners in scene pixels.
        char_boxes: axis-aligned bounds of each character in scene pixels.
        corners: ``(4, 2)`` float32 plate corners in scene pixels.
    """

    image: np.ndarray
    text: str
    plate_box: Box
    char_boxes: list[Box]
    corners: np.ndarray


# --------------------------------------------------------------------------------------------
# Text and fonts
# --------------------------------------------------------------------------------------------


def random_plate_text(rng: np.random.Generator) -> str:
    """A random Spanish plate text ``NNNNAAA`` (letters from ``config.SPANISH_LETTERS``)."""
    digits = "".join(config.DIGITS[i] for i in rng.integers(0, 10, size=4))
    letters = "".join(config.SPANISH_LETTERS[i] for i in rng.integers(0, len(config.SPANISH_LETTERS), size=3))
    return digits + letters


def find_fonts(font_dir: Path = FONT_DIR) -> list[Path]:
    """Installed plate-like fonts, best match first.

    Args:
        font_dir: where Debian installs fonts.

    Returns:
        Paths of the fonts in ``FONT_FILES`` order (one per file name).

    Raises:
        SetupError: none of the fonts is installed.
    """
    return list(_find_fonts_cached(font_dir))


@functools.lru_cache(maxsize=4)
def _find_fonts_cached(font_dir: Path) -> tuple[Path, ...]:
    found: dict[str, Path] = {}
    if font_dir.is_dir():
        wanted = set(FONT_FILES)
        for path in sorted(font_dir.rglob("*")):
            if path.name in wanted and path.name not in found:
                found[path.name] = path
    if not found:
        raise SetupError(
            f"no plate font found under {font_dir}; install the Debian packages: "
            f"apt-get install {' '.join(FONT_PACKAGES)}"
        )
    return tuple(found[name] for name in FONT_FILES if name in found)


@functools.lru_cache(maxsize=256)
def _glyph_mask(font_path: str, char: str) -> np.ndarray:
    """The character's ink cropped to its bounding box, as a float32 alpha mask in [0, 1]."""
    font = ImageFont.truetype(font_path, GLYPH_SIZE)
    mask = font.getmask(char)
    glyph = Image.frombytes("L", mask.size, bytes(mask))
    bbox = glyph.getbbox()
    if bbox is None:
        raise SetupError(f"font {font_path} has no glyph for {char!r}")
    return np.asarray(glyph.crop(bbox), dtype=np.float32) / 255.0


def _glyph_aspect(font_path: str, char: str) -> float:
    mask = _glyph_mask(font_path, char)
    return mask.shape[1] / mask.shape[0]


# --------------------------------------------------------------------------------------------
# Clean rendering
# --------------------------------------------------------------------------------------------


def _star_polygon(cx: float, cy: float, radius: float) -> list[tuple[float, float]]:
    points = []
    for k in range(10):
        r = radius if k % 2 == 0 else radius * 0.42
        angle = -math.pi / 2 + k * math.pi / 5
        points.append((cx + r * math.cos(angle), cy + r * math.sin(angle)))
    return points


def _draw_band(plate: Image.Image, band: Box, font_path: str, rng: np.random.Generator) -> None:
    """The blue EU band: a ring of twelve yellow stars above a white ``E``."""
    x, y, w, h = band
    draw = ImageDraw.Draw(plate)
    jitter = rng.integers(-20, 21, size=3)
    blue = tuple(int(np.clip(c + j, 0, 255)) for c, j in zip(EU_BLUE_RGB, jitter))
    draw.rectangle((x, y, x + w - 1, y + h - 1), fill=blue)
    ring_cx, ring_cy = x + w / 2, y + min(h * 0.32, w * 0.62)
    ring_r, star_r = w * 0.3, max(1.0, w * 0.065)
    for k in range(12):
        angle = k * math.pi / 6
        draw.polygon(
            _star_polygon(ring_cx + ring_r * math.cos(angle), ring_cy + ring_r * math.sin(angle), star_r),
            fill=EU_YELLOW_RGB,
        )
    e_height = max(4, round(min(h * 0.3, w * 0.62)))
    e_width = max(2, round(e_height * _glyph_aspect(font_path, "E") * 0.8))
    alpha = cv2.resize(_glyph_mask(font_path, "E"), (e_width, e_height), interpolation=cv2.INTER_AREA)
    white = Image.new("RGB", (e_width, e_height), (255, 255, 255))
    e_origin = (round(x + (w - e_width) / 2), round(y + h - e_height - h * 0.1))
    plate.paste(white, e_origin, Image.fromarray((alpha * 255).astype(np.uint8)))


def _row_cells(
    n_chars: int, left: float, right: float, top: int, char_h: int, cell_w: int, spacing: int, gap_after: int
) -> list[Box]:
    """Character cells of one centred row; ``gap_after`` is the index after which the wide gap comes."""
    gap = spacing + round(char_h * LETTER_GAP)
    extra = gap - spacing if 0 <= gap_after < n_chars - 1 else 0
    total = n_chars * cell_w + (n_chars - 1) * spacing + extra
    x = left + (right - left - total) / 2
    cells = []
    for i in range(n_chars):
        cells.append((round(x), top, cell_w, char_h))
        x += cell_w + (gap if i == gap_after else spacing)
    return cells


def _layout(
    text: str, size: tuple[int, int], band_w: int, two_rows: bool, rng: np.random.Generator
) -> list[Box]:
    """Character cells for a plate of ``size`` (w, h): one row with a gap before the letters, or two rows."""
    width, height = size
    margin = round(height * 0.07) if not two_rows else round(width * 0.04)
    left, right = band_w + margin, width - margin
    if two_rows:
        char_h = round(height * rng.uniform(0.32, 0.37))
        vertical_margin = round(height * rng.uniform(0.08, 0.12))
        rows = [(text[:4], vertical_margin, -1), (text[4:], height - vertical_margin - char_h, -1)]
    else:
        char_h = round(height * rng.uniform(0.66, 0.74))
        top = (height - char_h) // 2 + int(rng.integers(-2, 3))
        rows = [(text, top, 3)]
    spacing = round(char_h * rng.uniform(0.08, 0.16))
    widest = max(len(chars) for chars, _, _ in rows)
    fit_w = (right - left - (widest - 1) * spacing - (0 if two_rows else round(char_h * LETTER_GAP))) / widest
    cell_w = int(min(char_h * rng.uniform(0.52, 0.6), fit_w))
    cells: list[Box] = []
    for chars, top, gap_after in rows:
        cells += _row_cells(len(chars), left, right, top, char_h, cell_w, spacing, gap_after)
    return cells


def _ink_box(cell: Box, font_path: str, char: str, squeeze: float) -> Box:
    """The glyph's ink box: full cell height, natural (squeezed) width centred in the cell."""
    x, y, cell_w, char_h = cell
    ink_w = int(np.clip(round(_glyph_aspect(font_path, char) * char_h * squeeze), 2, cell_w))
    return (x + (cell_w - ink_w) // 2, y, ink_w, char_h)


def _paint_glyph(canvas: np.ndarray, box: Box, font_path: str, char: str, ink: np.ndarray) -> None:
    x, y, w, h = box
    alpha = cv2.resize(_glyph_mask(font_path, char), (w, h), interpolation=cv2.INTER_AREA)[..., None]
    region = canvas[y : y + h, x : x + w]
    region[:] = region * (1.0 - alpha) + ink * alpha


def render_plate(
    text: str, rng: np.random.Generator, font: Path | None = None, two_rows: bool = False
) -> RenderedPlate:
    """Render a clean Spanish plate (white, black border, blue EU band, black characters).

    Args:
        text: seven characters ``NNNNAAA``.
        rng: the random generator (colours, proportions, font when ``font`` is None).
        font: a font file; None picks one of :func:`find_fonts` at random.
        two_rows: a square-ish plate with ``NNNN`` on top and ``AAA`` below.

    Returns:
        The rendered plate with one ink box per character.
    """
    if len(text) != config.PLATE_LENGTH:
        raise ValueError(f"plate text must have {config.PLATE_LENGTH} characters, got {text!r}")
    if font is None:
        fonts = find_fonts()
        font = fonts[int(rng.integers(0, len(fonts)))]
    font_path = str(font)
    width_mm, height_mm = TWO_ROW_MM if two_rows else ONE_ROW_MM
    width, height = round(width_mm * PX_PER_MM), round(height_mm * PX_PER_MM)
    paper = tuple(int(v) for v in np.clip(rng.integers(222, 251) + rng.integers(-5, 6, size=3), 0, 255))
    plate = Image.new("RGB", (width, height), paper)
    draw = ImageDraw.Draw(plate)
    border = max(1, round(height * 0.012 * (1.0 if not two_rows else 0.55)))
    radius = round(min(width, height) * 0.06)
    draw.rounded_rectangle((0, 0, width - 1, height - 1), radius=radius, outline=(20, 20, 20), width=border)
    band_w = round(BAND_MM * PX_PER_MM)
    _draw_band(plate, (border + 1, border + 1, band_w - border - 1, height - 2 * border - 2), font_path, rng)

    canvas = np.asarray(plate, dtype=np.float32).copy()
    ink = np.full(3, float(rng.integers(0, 40)), dtype=np.float32)
    squeeze = DIGIT_ASPECT / _glyph_aspect(font_path, "0")
    boxes = []
    for char, cell in zip(text, _layout(text, (width, height), band_w, two_rows, rng)):
        box = _ink_box(cell, font_path, char, squeeze)
        _paint_glyph(canvas, box, font_path, char, ink)
        boxes.append(box)
    image = cv2.cvtColor(np.clip(canvas, 0, 255).astype(np.uint8), cv2.COLOR_RGB2BGR)
    return RenderedPlate(image=image, char_boxes=boxes, text=text)


# --------------------------------------------------------------------------------------------
# Geometry helpers
# --------------------------------------------------------------------------------------------


def _box_corners(box: Box) -> np.ndarray:
    x, y, w, h = box
    return np.array([[x, y], [x + w, y], [x + w, y + h], [x, y + h]], dtype=np.float32)


def _corners_box(corners: np.ndarray) -> Box:
    """Axis-aligned integer bounds of a set of points."""
    x0, y0 = np.floor(corners.min(axis=0)).astype(int)
    x1, y1 = np.ceil(corners.max(axis=0)).astype(int)
    return (int(x0), int(y0), int(x1 - x0), int(y1 - y0))


def _transform_points(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    return cv2.perspectiveTransform(points.reshape(-1, 1, 2).astype(np.float32), matrix).reshape(-1, 2)


def _random_homography(
    size: tuple[int, int], target_width: float, rng: np.random.Generator, strength: float, max_angle: float
) -> tuple[np.ndarray, tuple[int, int]]:
    """A perspective + rotation + scale warp of a ``size`` (w, h) image and the output size fitting it."""
    width, height = size
    src = _box_corners((0, 0, width, height))
    jitter = rng.uniform(-1.0, 1.0, size=(4, 2)) * np.array([width, height]) * 0.07 * strength
    angle = math.radians(rng.uniform(-max_angle, max_angle) * strength)
    rotation = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    centred = src + jitter - np.array([width / 2, height / 2])
    dst = centred @ rotation.T * (target_width / width)
    pad = max(2.0, 0.04 * target_width * rng.uniform(0.5, 1.5))
    dst = dst - dst.min(axis=0) + pad
    out_size = (int(math.ceil(dst[:, 0].max() + pad)), int(math.ceil(dst[:, 1].max() + pad)))
    return cv2.getPerspectiveTransform(src, dst.astype(np.float32)), out_size


def _warp(
    image: np.ndarray, boxes: Sequence[Box], target_width: float,
    rng: np.random.Generator, strength: float, max_angle: float = 10.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[Box]]:
    """Warp a plate image (rotation, perspective) so that the plate is ``target_width`` px wide.

    Returns:
        The warped image, its coverage mask (float32 in [0, 1]), the plate's warped corners and
        the warped boxes.
    """
    height, width = image.shape[:2]
    corners = _box_corners((0, 0, width, height))
    scale = target_width / width
    if scale < 1.0:
        # Shrink with area averaging first: warpPerspective alone would alias the strokes away.
        small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        pre = np.diag([small.shape[1] / width, small.shape[0] / height, 1.0])
        image = small
    else:
        pre = np.eye(3)
    matrix, out_size = _random_homography(
        (image.shape[1], image.shape[0]), image.shape[1] * max(scale, 1.0), rng, strength, max_angle
    )
    full = matrix @ pre
    warped = cv2.warpPerspective(
        image, matrix, out_size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    coverage = cv2.warpPerspective(
        np.ones(image.shape[:2], np.float32), matrix, out_size, flags=cv2.INTER_LINEAR, borderValue=0.0
    )
    new_corners = _transform_points(corners, full)
    new_boxes = [_corners_box(_transform_points(_box_corners(b), full)) for b in boxes]
    return warped, coverage, new_corners, new_boxes


# --------------------------------------------------------------------------------------------
# Photometric degradations: each is (image, rng, strength) -> image on float32 BGR in [0, 255]
# --------------------------------------------------------------------------------------------

Photometric = Callable[[np.ndarray, np.random.Generator, float], np.ndarray]


def _smooth_field(shape: tuple[int, int], rng: np.random.Generator, low: float, high: float) -> np.ndarray:
    """A linear gradient in a random direction going from ``low`` to ``high``."""
    height, width = shape
    angle = rng.uniform(0, 2 * math.pi)
    ys, xs = np.mgrid[0:1:8j, 0:1:8j]
    ramp = (xs * math.cos(angle) + ys * math.sin(angle)).astype(np.float32)
    ramp = (ramp - ramp.min()) / max(float(np.ptp(ramp)), 1e-6)
    small = low + (high - low) * ramp
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)


def _lighting(image: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    """Low and uneven light: a global gain times a gradient."""
    gain = rng.uniform(1.0 - 0.55 * strength, 1.1)
    field = _smooth_field(image.shape[:2], rng, 1.0 - 0.45 * strength * rng.uniform(), 1.0)
    return image * (gain * field)[..., None]


def _shadow(image: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    """A hard-edged shadow over the part of the image on one side of a random line."""
    height, width = image.shape[:2]
    pts = rng.uniform(0, 1, size=(2, 2)) * np.array([width, height])
    polygon = np.array([pts[0], pts[1], [width * rng.uniform(), height * 2], [-width, height * 2]])
    mask = np.zeros((height, width), np.float32)
    cv2.fillPoly(mask, [polygon.astype(np.int32)], 1.0)
    mask = cv2.GaussianBlur(mask, (0, 0), max(0.5, width * 0.005))
    darkness = rng.uniform(0.2, 0.55) * strength
    return image * (1.0 - darkness * mask)[..., None]


def _dirt(image: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    """A few semi-transparent brownish spots."""
    height, width = image.shape[:2]
    mask = np.zeros((height, width), np.float32)
    for _ in range(int(rng.integers(1, 2 + round(6 * strength)))):
        centre = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        axes = (max(1, int(rng.uniform(0.01, 0.06) * width)), max(1, int(rng.uniform(0.02, 0.12) * height)))
        cv2.ellipse(mask, centre, axes, float(rng.uniform(0, 180)), 0, 360, float(rng.uniform(0.3, 0.8)), -1)
    mask = cv2.GaussianBlur(mask, (0, 0), max(0.5, width * 0.004))[..., None]
    colour = np.array([40, 60, 80], np.float32) + rng.uniform(-20, 20, size=3).astype(np.float32)
    return image * (1.0 - mask * strength) + colour * mask * strength


def _blur(image: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    """Gaussian defocus or a short horizontal/vertical motion blur."""
    if rng.uniform() < 0.7:
        sigma = rng.uniform(0.3, 0.3 + 1.2 * strength)
        size = 2 * math.ceil(2.5 * sigma) + 1  # OpenCV's default kernel for float images is far larger
        return cv2.GaussianBlur(image, (size, size), sigma)
    length = int(rng.integers(2, 3 + round(4 * strength)))
    kernel = np.zeros((length, length), np.float32)
    if rng.uniform() < 0.5:
        kernel[length // 2, :] = 1.0 / length
    else:
        kernel[:, length // 2] = 1.0 / length
    return cv2.filter2D(image, -1, kernel)


def _noise(image: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    sigma = rng.uniform(1.0, 1.0 + 10.0 * strength)
    return image + rng.standard_normal(image.shape, dtype=np.float32) * np.float32(sigma)


# (name, probability, function); the order is the physical one: light, dirt, optics, sensor.
PHOTOMETRIC: tuple[tuple[str, float, Photometric], ...] = (
    ("lighting", 0.8, _lighting),
    ("shadow", 0.3, _shadow),
    ("dirt", 0.3, _dirt),
    ("blur", 0.7, _blur),
    ("noise", 0.8, _noise),
)


def _apply_steps(
    image: np.ndarray, rng: np.random.Generator, strength: float, steps: Sequence[str]
) -> np.ndarray:
    """Apply the named steps of ``PHOTOMETRIC``, each with its probability, on a float32 image."""
    out = image.astype(np.float32)
    for name, probability, step in PHOTOMETRIC:
        # Draw the coin even for skipped steps so that the random stream does not depend on ``steps``.
        if rng.uniform() < probability and name in steps:
            out = step(out, rng, strength)
    return out


def _to_jpeg_uint8(image: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    """Clip to uint8, then (most of the time) JPEG-compress at a random quality."""
    out = np.clip(image, 0, 255).astype(np.uint8)
    if rng.uniform() >= 0.8:
        return out
    quality = max(5, int(rng.uniform(95 - 65 * strength, 96)))
    ok, data = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, quality])
    return cv2.imdecode(data, cv2.IMREAD_COLOR) if ok else out


# --------------------------------------------------------------------------------------------
# Public degradation API
# --------------------------------------------------------------------------------------------

ALL_STEPS = tuple(name for name, _, _ in PHOTOMETRIC)
# In a scene, shadows and dirt belong to the plate; light, optics and sensor to the whole photo.
PLATE_STEPS = ("shadow", "dirt")
SCENE_STEPS = ("lighting", "blur", "noise")


def _random_plate_width(rng: np.random.Generator, low: float, high: float) -> float:
    """Log-uniform, since plate size in pixels spans a large ratio."""
    return float(math.exp(rng.uniform(math.log(low), math.log(max(low, high)))))


def degrade_plate(
    plate: RenderedPlate, rng: np.random.Generator, strength: float = 1.0, plate_width: float | None = None
) -> DegradedPlate:
    """Warp, rescale and degrade a rendered plate, moving its boxes and corners along.

    Args:
        plate: a clean rendering from :func:`render_plate`.
        rng: the random generator.
        strength: 0 keeps the plate nearly clean, 1 is the full range of degradations.
        plate_width: output plate width in pixels; None draws one in [40, 200].

    Returns:
        The degraded plate with its character boxes and corners in output pixels.
    """
    width = plate_width if plate_width is not None else _random_plate_width(rng, 40, 200)
    warped, coverage, corners, boxes = _warp(plate.image, plate.char_boxes, width, rng, strength)
    background = _background_patch(warped.shape[:2], rng)
    mixed = warped * coverage[..., None] + background * (1.0 - coverage[..., None])
    image = _to_jpeg_uint8(_apply_steps(mixed, rng, strength, ALL_STEPS), rng, strength)
    return DegradedPlate(image=image, char_boxes=boxes, corners=corners, text=plate.text)


def degrade(image: np.ndarray, rng: np.random.Generator, strength: float = 1.0) -> np.ndarray:
    """Warp, rotate, rescale (to 40-200 px wide) and photometrically degrade a plate image.

    Use :func:`degrade_plate` when character boxes or plate corners must follow the warp.
    """
    plate = RenderedPlate(image=image, char_boxes=[], text="")
    return degrade_plate(plate, rng, strength).image


# --------------------------------------------------------------------------------------------
# Scenes
# --------------------------------------------------------------------------------------------


def _random_colour(rng: np.random.Generator, low: int = 0, high: int = 256) -> tuple[int, int, int]:
    b, g, r = (int(v) for v in rng.integers(low, high, size=3))
    return (b, g, r)


def _background_patch(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """A flat random colour with a gradient (what lies around a plate crop: a bumper)."""
    colour = np.array(_random_colour(rng, 10, 230), np.float32)
    small = colour * _smooth_field((16, 16), rng, 0.7, 1.1)[..., None]
    return cv2.resize(small, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)


def _random_text(rng: np.random.Generator) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 -"
    return "".join(alphabet[i] for i in rng.integers(0, len(alphabet), size=int(rng.integers(2, 12))))


# How often each kind of clutter is drawn: rectangle, line, circle, stripes, text, sign.
CLUTTER_WEIGHTS = (0.3, 0.2, 0.15, 0.15, 0.15, 0.05)
CLUTTER_FONTS = (cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_DUPLEX, cv2.FONT_HERSHEY_PLAIN)


def _clutter(canvas: np.ndarray, rng: np.random.Generator) -> None:
    """Draw rectangles, lines, circles, stripes and text-like blobs in place."""
    height, width = canvas.shape[:2]
    unit = max(width, height)
    count = int(rng.integers(25, 60))
    for _ in range(count):
        kind = int(rng.choice(len(CLUTTER_WEIGHTS), p=CLUTTER_WEIGHTS))
        colour = _random_colour(rng)
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        size = int(unit * rng.uniform(0.01, 0.3))
        thickness = int(rng.integers(1, max(2, unit // 200)))
        if kind == 0:
            filled = rng.uniform() < 0.6
            cv2.rectangle(canvas, (x, y), (x + size, y + int(size * rng.uniform(0.2, 1.5))), colour,
                          -1 if filled else thickness)
        elif kind == 1:
            end = (int(rng.integers(0, width)), int(rng.integers(0, height)))
            cv2.line(canvas, (x, y), end, colour, thickness)
        elif kind == 2:
            cv2.circle(canvas, (x, y), max(1, size // 2), colour, -1 if rng.uniform() < 0.5 else thickness)
        elif kind == 3:
            # Grille-like stripes: many parallel dark bars, a classic false positive for plate finders.
            bars, bar_h, step = int(rng.integers(4, 14)), max(2, size // 3), max(3, size // 8)
            for k in range(bars):
                cv2.rectangle(canvas, (x + k * step, y), (x + k * step + step // 2, y + bar_h), colour, -1)
        else:
            scale = unit * rng.uniform(0.0005, 0.003)
            font = int(rng.choice(CLUTTER_FONTS))
            words = _random_text(rng)
            if kind == 5:
                # A sign or sticker: dark text on a light box, the hardest negative for a plate finder.
                (text_w, text_h), _ = cv2.getTextSize(words, font, scale, max(1, int(scale * 2)))
                pad = max(2, text_h // 3)
                cv2.rectangle(canvas, (x - pad, y - text_h - pad), (x + text_w + pad, y + pad),
                              _random_colour(rng, 180, 256), -1)
                colour = _random_colour(rng, 0, 80)
            cv2.putText(canvas, words, (x, y), font, scale, colour, max(1, int(scale * 2)), cv2.LINE_AA)


def _scene_background(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    canvas = _background_patch(shape, rng).astype(np.uint8)
    _clutter(canvas, rng)
    return canvas


def make_scene(
    rng: np.random.Generator,
    canvas_size: tuple[int, int] = (416, 416),
    plate_width: float | None = None,
    text: str | None = None,
    two_rows: bool = False,
    strength: float = 0.7,
) -> Scene:
    """A degraded plate pasted on a bumper-coloured patch in a cluttered generated background.

    Args:
        rng: the random generator.
        canvas_size: ``(height, width)`` of the scene.
        plate_width: plate width in pixels before the small perspective warp; None draws one
            log-uniformly in [40, min(400, 0.6 * canvas width)].
        text: the plate text; None draws one.
        two_rows: render a two-row plate.
        strength: degradation strength, see :func:`degrade_plate`.

    Returns:
        The scene and where its plate and characters are.
    """
    height, width = canvas_size
    if text is None:
        text = random_plate_text(rng)
    if plate_width is None:
        plate_width = _random_plate_width(rng, 40, min(400.0, 0.6 * width))
    plate = render_plate(text, rng, two_rows=two_rows)
    warped, coverage, corners, boxes = _warp(plate.image, plate.char_boxes, plate_width, rng, strength)
    warped = _apply_steps(warped, rng, strength, PLATE_STEPS)
    patch_h, patch_w = warped.shape[:2]
    if patch_w >= width or patch_h >= height:
        raise ValueError(f"plate of {patch_w}x{patch_h} px does not fit a {width}x{height} canvas")

    canvas = _scene_background((height, width), rng)
    x0, y0 = int(rng.integers(0, width - patch_w)), int(rng.integers(0, height - patch_h))
    # A bumper-coloured surround a little larger than the plate, as on a car.
    margin = int(patch_h * rng.uniform(0.3, 1.2))
    canvas[max(0, y0 - margin) : y0 + patch_h + margin, max(0, x0 - margin) : x0 + patch_w + margin] = (
        _random_colour(rng, 10, 230)
    )
    region = canvas[y0 : y0 + patch_h, x0 : x0 + patch_w].astype(np.float32)
    alpha = coverage[..., None]
    canvas[y0 : y0 + patch_h, x0 : x0 + patch_w] = np.clip(warped * alpha + region * (1.0 - alpha), 0, 255)

    image = _to_jpeg_uint8(_apply_steps(canvas, rng, strength * 0.6, SCENE_STEPS), rng, strength)
    offset = np.array([x0, y0], np.float32)
    corners = corners + offset
    scene_boxes = [(x + x0, y + y0, w, h) for x, y, w, h in boxes]
    return Scene(
        image=image, text=text, plate_box=_corners_box(corners), char_boxes=scene_boxes, corners=corners
    )
