"""Varied synthetic plates for the whole-plate reader: many formats, two style families, hard photos.

``sample_plate(rng)`` draws one plate crop (:class:`PlateSample`) as a plate box would give it;
``sample_scene(rng)`` pastes one into a whole cluttered photo (:class:`PlateScene`), for test sets.
The pieces: :mod:`.texts` (formats), :mod:`.glyphs` (fonts, Hershey strokes, Chars74K),
:mod:`.render` (drawing a plate), :mod:`.families` (the two looks), :mod:`.effects` (light,
optics, sensor), :mod:`.sample` (geometry, crops, negatives). ``plateocr.synth`` stays the
character trainer's generator; this package reuses its pieces.

Training on the fly::

    bank = GlyphBank.load(config.DATA_DIR)          # once, ~5 s; omit it and no plate uses Chars74K
    rng = np.random.default_rng(seed)                # one generator per worker (SeedSequence.spawn)
    sample = sample_plate(rng, glyphs=bank)          # ~1.7 ms of CPU
    sample.image, sample.text                        # BGR crop of any size, "" when there is no plate

``GenConfig`` holds the balance knobs (kinds, families, two-row share, Chars74K share, plate
widths, degradation strength); ``sample_plate(family="truetype")`` or
``GenConfig(family_weights={"truetype": 1})`` trains on one family so the other measures transfer.
"""

from plateocr.plategen.effects import EFFECT_NAMES
from plateocr.plategen.families import FAMILIES, STYLE_FAMILIES
from plateocr.plategen.glyphs import FONT_FILES, FONT_PACKAGES, GlyphBank, find_fonts
from plateocr.plategen.sample import (
    CROP_MODES,
    DEFAULT_CONFIG,
    EFFECT_KEYS,
    NEGATIVE_LAYOUTS,
    GenConfig,
    PlateSample,
    PlateScene,
    sample_plate,
    sample_scene,
)
from plateocr.plategen.texts import KINDS, LAYOUTS, PLATE_KINDS, Layout

__all__ = [
    "CROP_MODES",
    "DEFAULT_CONFIG",
    "EFFECT_KEYS",
    "EFFECT_NAMES",
    "FAMILIES",
    "FONT_FILES",
    "FONT_PACKAGES",
    "KINDS",
    "LAYOUTS",
    "NEGATIVE_LAYOUTS",
    "PLATE_KINDS",
    "STYLE_FAMILIES",
    "GenConfig",
    "GlyphBank",
    "Layout",
    "PlateSample",
    "PlateScene",
    "find_fonts",
    "sample_plate",
    "sample_scene",
]
