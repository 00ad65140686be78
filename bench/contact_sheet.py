#!/usr/bin/env python3
"""Draw the contact sheet of the whole-plate generator (``plateocr.plategen``): one labelled row per variety.

::

    .venv/bin/python bench/contact_sheet.py --out docs/plate_synth_contact_sheet.jpg --seed 2026

Each row shows one variety (a text format, fonts, stroke widths, a geometry, a light or optics
effect, extras, Chars74K glyphs, negatives, the two style families) with the other effects off,
so that what the row is about is what varies. Crops are shown at a common height; the "60 px"
row shows them at their real size and then enlarged. The same seed draws the same sheet.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import config  # noqa: E402
from plateocr.errors import PlateOCRError  # noqa: E402
from plateocr.plategen import EFFECT_KEYS, GenConfig, GlyphBank, PlateSample, sample_plate  # noqa: E402
from plateocr.results import atomic_path  # noqa: E402

log = logging.getLogger("contact_sheet")

TILE_H, TILE_W, LABEL_W, PER_ROW = 64, 220, 250, 7
CAPTION_H = 14
CLEAN = {name: 0.0 for name in EFFECT_KEYS}


@dataclass(frozen=True)
class Row:
    """One row of the sheet: its label and how to draw its i-th sample."""

    label: str
    draw: Callable[[np.random.Generator, int], PlateSample]


def _clean(**effects: float) -> dict[str, float]:
    return {**CLEAN, **effects}


def rows(glyphs: GlyphBank | None) -> list[Row]:
    """The sheet's rows, top to bottom."""
    foreign = ("fr", "it", "de", "pt", "gb", "es_vowels", "fr")
    squares = (
        "es_two_rows",
        "es_two_rows",
        "gb_two_rows",
        "fr_two_rows",
        "de_two_rows",
        "it_two_rows",
        "es_old_two_rows",
    )
    crops = ("loose", "tight", "off_centre", "clipped", "loose", "off_centre", "clipped")
    family = ("truetype", "stroke")
    table: list[tuple[str, Callable[[np.random.Generator, int], PlateSample]]] = [
        ("Spanish NNNNAAA, truetype", lambda r, i: sample_plate(r, family="truetype", layout="es", effects=_clean())),
        ("Spanish NNNNAAA, stroke", lambda r, i: sample_plate(r, family="stroke", layout="es", effects=_clean())),
        (
            "two-row squares (ES, GB, FR, DE, IT, old ES)",
            lambda r, i: sample_plate(r, family=family[i % 2], layout=squares[i], effects=_clean()),
        ),
        (
            "old provincial Spanish",
            lambda r, i: sample_plate(r, family=family[i % 2], layout="es_old", effects=_clean()),
        ),
        (
            "FR, IT, DE, PT, GB, NNNN+vowels",
            lambda r, i: sample_plate(r, family=family[i % 2], layout=foreign[i], effects=_clean()),
        ),
        ("many TrueType faces", lambda r, i: sample_plate(r, family="truetype", layout="es", effects=_clean())),
        (
            "stroke widths (erode .. dilate)",
            lambda r, i: sample_plate(r, family=family[i % 2], layout="es", effects=_clean(), style={"stroke": i - 2}),
        ),
        (
            "character spacing and size",
            lambda r, i: sample_plate(
                r,
                family="truetype",
                layout="es",
                effects=_clean(),
                style={"spacing": 0.02 + 0.06 * i, "char_height": 0.5 + 0.05 * i},
            ),
        ),
        (
            "Chars74K glyphs",
            lambda r, i: sample_plate(
                r,
                family=family[i % 2],
                kind="spanish",
                effects=_clean(),
                glyphs=glyphs,
                config=GenConfig(chars74k_share=1.0),
            ),
        ),
        (
            "rotation -30 .. +30 deg",
            lambda r, i: sample_plate(r, family=family[i % 2], kind="spanish", effects=_clean(), tilt=-30.0 + 10.0 * i),
        ),
        (
            "perspective (yaw, pitch)",
            lambda r, i: sample_plate(
                r, family=family[i % 2], kind="spanish", effects=_clean(perspective=1.0), tilt=0.0
            ),
        ),
        (
            "crops: loose, tight, off-centre, clipped",
            lambda r, i: sample_plate(r, family=family[i % 2], kind="spanish", effects=_clean(), crop=crops[i]),
        ),
    ]
    for label, name in (
        ("colour casts", "cast"),
        ("low light", "low_light"),
        ("glare", "glare"),
        ("shadows", "shadow"),
        ("uneven light", "lighting"),
        ("motion blur", "motion"),
        ("defocus blur", "defocus"),
        ("JPEG", "jpeg"),
        ("digital zoom, over-sharpening", "pixelate"),
        ("sensor noise, salt and pepper", "noise"),
        ("dirt", "dirt"),
        ("screws", "screws"),
        ("plate holder + dealer lettering", "holder"),
    ):
        table.append((label, _effect_row(name)))
    table += [
        (
            "plates 60 px wide (real size | enlarged)",
            lambda r, i: sample_plate(r, family=family[i % 2], kind="spanish", plate_width=60.0, effects=_clean()),
        ),
        (
            "no plate: bumper, grille, road, text, noise",
            lambda r, i: sample_plate(
                r, family=family[i % 2], layout=("background", "grille", "road", "text", "noise", "text", "grille")[i]
            ),
        ),
        (
            "truetype family, everything on",
            lambda r, i: sample_plate(r, family="truetype", kind="spanish", glyphs=glyphs),
        ),
        ("stroke family, everything on", lambda r, i: sample_plate(r, family="stroke", kind="spanish", glyphs=glyphs)),
        ("mixed, default balance", lambda r, i: sample_plate(r, glyphs=glyphs)),
    ]
    return [Row(label, draw) for label, draw in table]


def _effect_row(name: str) -> Callable[[np.random.Generator, int], PlateSample]:
    extra = {"salt_pepper": 1.0} if name == "noise" else {"sharpen": 1.0} if name == "pixelate" else {}
    return lambda r, i: sample_plate(
        r,
        family=("truetype", "stroke")[i % 2],
        kind="spanish",
        effects=_clean(**{name: 1.0}, **(extra if i % 2 else {})),
    )


def _tile(sample: PlateSample, native: bool = False) -> np.ndarray:
    """The sample fitted into a tile, with its text (or kind) as a caption."""
    tile = np.full((TILE_H + CAPTION_H, TILE_W, 3), 255, np.uint8)
    image = sample.image
    h, w = image.shape[:2]
    if native:
        small = image[:TILE_H, : TILE_W // 3]
        scale = min(TILE_H / h, (TILE_W - small.shape[1] - 6) / w)
        big = cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_NEAREST)
        tile[: small.shape[0], : small.shape[1]] = small
        tile[: big.shape[0], small.shape[1] + 6 : small.shape[1] + 6 + big.shape[1]] = big
    else:
        scale = min(TILE_H / h, (TILE_W - 4) / w)
        fitted = cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
        tile[: fitted.shape[0], : fitted.shape[1]] = fitted
    caption = sample.text or f"({sample.layout})"
    cv2.putText(
        tile, f"{caption} {sample.family[0]}", (2, TILE_H + CAPTION_H - 3), cv2.FONT_HERSHEY_PLAIN, 0.9, (0, 0, 160), 1
    )
    return tile


def draw_sheet(seed: int, glyphs: GlyphBank | None) -> np.ndarray:
    """The whole sheet as one BGR image."""
    rng = np.random.default_rng(seed)
    bands = []
    for row in rows(glyphs):
        label = np.full((TILE_H + CAPTION_H, LABEL_W, 3), 255, np.uint8)
        words, lines = row.label.split(" "), [""]
        for word in words:
            if len(lines[-1]) + len(word) > 27:
                lines.append("")
            lines[-1] = (lines[-1] + " " + word).strip()
        for k, line in enumerate(lines):
            cv2.putText(label, line, (4, 18 + 17 * k), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
        native = row.label.startswith("plates 60 px")
        tiles = [_tile(row.draw(rng, i), native=native) for i in range(PER_ROW)]
        band = np.hstack([label] + tiles)
        bands.append(np.vstack([band, np.full((4, band.shape[1], 3), 200, np.uint8)]))
    return np.vstack(bands)


def main(argv: Sequence[str] | None = None) -> int:
    """CLI: write the sheet; exit 0, 2 on a setup error (no fonts, unreadable Chars74K)."""
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument(
        "--out", type=Path, default=ROOT / "docs" / "plate_synth_contact_sheet.jpg",
        help="image to write (JPEG quality 88, a fifth of the PNG; or .png)"
    )
    parser.add_argument("--seed", type=int, default=2026, help="random seed")
    parser.add_argument("--data", type=Path, default=config.DATA_DIR, help="data folder holding chars74k/")
    parser.add_argument("--chars74k-limit", type=int, default=60, help="Chars74K crops loaded per class (0: all)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        glyphs = GlyphBank.load(args.data, limit_per_class=args.chars74k_limit or None)
        sheet = draw_sheet(args.seed, glyphs)
    except PlateOCRError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    with atomic_path(args.out) as tmp:
        if not cv2.imwrite(str(tmp), sheet, [cv2.IMWRITE_JPEG_QUALITY, 88]):
            print(f"error: {args.out}: cannot write the image", file=sys.stderr)
            return 2
    log.info("contact sheet written to %s (%dx%d)", args.out, sheet.shape[1], sheet.shape[0])
    return 0


if __name__ == "__main__":
    sys.exit(main())
