"""Where the characters' shapes come from: TrueType fonts, OpenCV's Hershey stroke fonts, Chars74K.

Every source hands out tight uint8 ink masks (255 = ink) of one character, cached at a fixed
height (``MASK_HEIGHT``) so that drawing a plate only resizes small arrays, never rasterises a font.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageFont

import config
from plateocr import synth
from plateocr.dataset import chars74k_root, sample_folder
from plateocr.errors import DataError, SetupError
from plateocr.preprocess import binarize_character, character_mask, to_gray

log = logging.getLogger(__name__)

# Debian font packages the plate generator needs beyond plateocr.synth's (the Makefile installs
# both lists; a test checks this one against the Makefile's PLATEGEN_FONT_PACKAGES line).
FONT_PACKAGES: tuple[str, ...] = (
    "fonts-roadgeek",
    "fonts-b612",
    "fonts-ocr-b",
    "fonts-bebas-neue",
    "fonts-league-spartan",
    "fonts-cantarell",
    "fonts-go",
    "fonts-allerta",
    "fonts-play",
    "fonts-jura",
)
# The "truetype" family's faces: plate-like narrow sans first, then wider, rounder, mono and
# technical faces so that the reader does not learn one typeface.
FONT_FILES: tuple[str, ...] = synth.FONT_FILES + (
    "RobotoCondensed-Regular.ttf",
    "Roboto-Bold.ttf",
    "LiberationSans-Bold.ttf",
    "LiberationMono-Bold.ttf",
    "NimbusSans-Bold.otf",
    "NimbusMonoPS-Bold.otf",
    "URWGothic-Demi.otf",
    "DejaVuSans-Bold.ttf",
    "DejaVuSansMono-Bold.ttf",
    "RG2014C.ttf",
    "RG2014D.ttf",
    "RG2014E.ttf",
    "B612-Bold.otf",
    "B612Mono-Bold.otf",
    "OCRB.otf",
    "BebasNeue-Regular.otf",
    "BebasNeue-Bold.otf",
    "LeagueSpartan-Bold.otf",
    "Cantarell-Bold.otf",
    "Go-Bold.ttf",
    "Go-Mono-Bold.ttf",
    "allerta_medium.otf",
    "Play-Bold.ttf",
    "Jura-Bold.otf",
)
MASK_HEIGHT = 64  # every cached glyph mask is this tall
PLATE_CHARS = config.DIGITS + config.LETTERS


def _tight(mask: np.ndarray) -> np.ndarray | None:
    ys, xs = np.nonzero(mask > 40)
    if ys.size == 0:
        return None
    return mask[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]


def _to_height(mask: np.ndarray, height: int = MASK_HEIGHT) -> np.ndarray:
    h, w = mask.shape
    width = max(1, round(w * height / h))
    interpolation = cv2.INTER_AREA if h > height else cv2.INTER_LINEAR
    return cv2.resize(mask, (width, height), interpolation=interpolation)


@functools.lru_cache(maxsize=4)
def find_fonts(font_dir: Path = synth.FONT_DIR) -> tuple[Path, ...]:
    """The installed faces of ``FONT_FILES`` that draw every plate character, in list order.

    Raises:
        SetupError: none is installed.
    """
    wanted = set(FONT_FILES)
    found: dict[str, Path] = {}
    if font_dir.is_dir():
        for path in sorted(font_dir.rglob("*")):
            if path.name in wanted and path.name not in found:
                found[path.name] = path
    missing = [name for name in FONT_FILES if name not in found]
    if missing:
        log.warning("plate fonts not installed: %s", ", ".join(missing))
    fonts = tuple(found[name] for name in FONT_FILES if name in found and _draws_all(found[name]))
    if not fonts:
        raise SetupError(
            f"no plate font found under {font_dir}; install the Debian packages: "
            f"apt-get install {' '.join(synth.FONT_PACKAGES + FONT_PACKAGES)}"
        )
    return fonts


def _draws_all(path: Path) -> bool:
    try:
        return all(truetype_mask(str(path), char) is not None for char in PLATE_CHARS)
    except OSError:
        return False


@functools.cache
def truetype_mask(font_path: str, char: str) -> np.ndarray | None:
    """A TrueType character's tight ink mask, ``MASK_HEIGHT`` px tall (None if the face lacks it)."""
    font = _truetype(font_path)
    raw = font.getmask(char)
    glyph = np.asarray(Image.frombytes("L", raw.size, bytes(raw)))
    tight = _tight(glyph)
    return None if tight is None else _to_height(tight)


@functools.cache
def _truetype(font_path: str) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(font_path, round(MASK_HEIGHT * 1.4))


# OpenCV's Hershey faces that draw plate-like capitals (the script faces do not).
HERSHEY_FACES: tuple[int, ...] = (
    cv2.FONT_HERSHEY_SIMPLEX,
    cv2.FONT_HERSHEY_DUPLEX,
    cv2.FONT_HERSHEY_COMPLEX,
    cv2.FONT_HERSHEY_TRIPLEX,
    cv2.FONT_HERSHEY_PLAIN,
)
HERSHEY_THICKNESS = (3, 5, 7, 9)  # pen widths at ~50 px cap height


@functools.cache
def hershey_mask(face: int, thickness: int, italic: bool, char: str) -> np.ndarray:
    """A Hershey stroke character drawn with ``thickness`` px pens, as a tight mask ``MASK_HEIGHT`` px tall."""
    canvas = np.zeros((120, 120), np.uint8)
    scale = cv2.getFontScaleFromHeight(face, 50, thickness)
    cv2.putText(canvas, char, (20, 90), face | (cv2.FONT_ITALIC if italic else 0), scale, 255, thickness, cv2.LINE_AA)
    tight = _tight(canvas)
    assert tight is not None, (face, char)
    return _to_height(tight)


@dataclass(frozen=True)
class GlyphBank:
    """Chars74K characters as binary ink masks (255 = ink), ``MASK_HEIGHT`` px tall, by character."""

    masks: dict[str, tuple[np.ndarray, ...]]

    @classmethod
    def load(cls, data_dir: Path, limit_per_class: int | None = None, subset: str = "good") -> GlyphBank:
        """Load and binarise the Chars74K classes ``0-9A-Z`` (class order from ``config.CLASSES``).

        Crops whose binarisation does not look like one character (too little or too much ink,
        an odd shape) are dropped.

        Raises:
            DataError: a class folder is missing or keeps no usable crop.
        """
        root = chars74k_root(data_dir, subset)
        masks: dict[str, tuple[np.ndarray, ...]] = {}
        for index, char in enumerate(config.CLASSES):
            folder = root / sample_folder(index)
            if not folder.is_dir():
                raise DataError(f"{folder}: missing Chars74K folder for class {char!r}; run `make data`")
            kept = []
            for file in sorted(folder.glob("*.png"))[:limit_per_class]:
                image = cv2.imread(str(file), cv2.IMREAD_GRAYSCALE)
                mask = None if image is None or image.size == 0 else ink_mask(image, char)
                if mask is not None:
                    kept.append(mask)
            if not kept:
                raise DataError(f"{folder}: no usable Chars74K crop for class {char!r}")
            masks[char] = tuple(kept)
        log.info("glyph bank: %d Chars74K masks", sum(len(v) for v in masks.values()))
        return cls(masks)

    def pick(self, char: str, rng: np.random.Generator) -> np.ndarray:
        options = self.masks[char]
        return options[int(rng.integers(0, len(options)))]

    def __len__(self) -> int:
        return sum(len(v) for v in self.masks.values())


def ink_mask(image: np.ndarray, char: str = "") -> np.ndarray | None:
    """One character crop -> its tight ink mask ``MASK_HEIGHT`` px tall, or None when it does not look like one.

    ``char`` relaxes the shape check for the bar-like ``I`` and ``1``.
    """
    gray = to_gray(image)
    if min(gray.shape) < 8:
        return None
    mask = _tight(character_mask(binarize_character(gray)))
    if mask is None or mask.shape[0] < 8:
        return None
    h, w = mask.shape
    fill = np.count_nonzero(mask) / mask.size
    bar = char in ("I", "1")
    if not ((0.04 if bar else 0.12) <= w / h <= 1.3 and 0.08 <= fill <= (1.0 if bar else 0.8)):
        return None
    return _to_height(mask)
