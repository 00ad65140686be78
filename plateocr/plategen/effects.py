"""Photometric effects on a plate crop: each is ``(image, rng, strength) -> image`` on float32 BGR.

They run on the crop at its output size (tens to a few hundred pixels), so each costs tens of
microseconds. The table ``EFFECTS`` gives their physical order: light on the scene, colour, optics,
sensor, compression. A style family gives each one a probability (``Family.effects``).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping

import cv2
import numpy as np

from plateocr.synth import Photometric, _lighting, _shadow

# Whole-crop colour casts, BGR gains: blue (night, LED light), yellow (sodium lamps), green, orange, magenta.
CASTS: tuple[tuple[float, float, float], ...] = (
    (1.5, 1.0, 0.5),
    (0.5, 1.0, 1.2),
    (0.7, 1.25, 0.7),
    (0.45, 0.85, 1.3),
    (1.3, 0.75, 1.2),
)


def _cast(image: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    """Tint the whole crop: a channel gain towards one of ``CASTS`` and a tinted haze."""
    gain = np.array(CASTS[int(rng.integers(0, len(CASTS)))], np.float32)
    amount = rng.uniform(0.5, 1.0) * max(strength, 0.5)
    gain = 1.0 + (gain - 1.0) * amount
    haze = (gain - gain.min()) * rng.uniform(0, 80) * amount
    return image * gain + haze


def _low_light(image: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    """Dark, flat exposure: a gain of 0.2-0.6 and a lifted black level, so contrast drops too."""
    gain = rng.uniform(0.2, 0.6) ** strength
    return image * np.float32(gain) + np.float32(rng.uniform(0, 25))


NOISE_SIZE = 1024


@functools.cache
def _noise_field() -> np.ndarray:
    """A fixed field of standard normal noise; crops at random offsets are ~10x cheaper than fresh draws."""
    return np.random.default_rng(0).standard_normal((NOISE_SIZE, NOISE_SIZE, 3), dtype=np.float32)


def _noise(image: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    """Gaussian sensor noise (sigma 1-11 grey levels), cut from a fixed noise field at a random offset."""
    sigma = np.float32(rng.uniform(1.0, 1.0 + 10.0 * strength))
    height, width = image.shape[:2]
    if height > NOISE_SIZE or width > NOISE_SIZE:
        return image + rng.standard_normal(image.shape, dtype=np.float32) * sigma
    y, x = int(rng.integers(0, NOISE_SIZE - height + 1)), int(rng.integers(0, NOISE_SIZE - width + 1))
    return image + _noise_field()[y : y + height, x : x + width] * sigma


def _shadow_hard(image: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    """plateocr.synth's shadow (a dark half-plane), up to 85% dark rather than 55%."""
    return _shadow(image, rng, min(1.6, 1.6 * strength))


def _glare(image: np.ndarray, rng: np.random.Generator, strength: float, unit: float) -> np.ndarray:
    """A bright soft blob (sun or headlight reflection) over part of the plate."""
    height, width = image.shape[:2]
    cx, cy = rng.uniform(0, width), rng.uniform(0, height)
    sx = unit * rng.uniform(0.3, 1.8)
    sy = max(2.0, sx * rng.uniform(0.3, 1.2))
    xs = ((np.arange(width, dtype=np.float32) - cx) / sx) ** 2
    ys = ((np.arange(height, dtype=np.float32) - cy) / sy) ** 2
    blob = np.exp(-0.5 * (ys[:, None] + xs[None, :]))
    level = rng.uniform(60, 170) * strength  # more would wash the characters out: unreadable, yet labelled
    return image + (blob * level)[..., None]


def _defocus(image: np.ndarray, rng: np.random.Generator, strength: float, unit: float) -> np.ndarray:
    """Out of focus: a Gaussian whose width follows the plate's height ``unit`` (blur per character matters)."""
    sigma = rng.uniform(0.4, 0.4 + 0.05 * unit) * strength
    size = 2 * math.ceil(2.5 * sigma) + 1
    return cv2.GaussianBlur(image, (size, size), sigma)


def _motion(image: np.ndarray, rng: np.random.Generator, strength: float, unit: float) -> np.ndarray:
    """Motion blur along a random direction, up to ~a sixth of the plate's height ``unit`` long."""
    length = max(2, round(rng.uniform(2, 3 + 0.15 * unit) * strength))
    kernel = np.zeros((length, length), np.float32)
    angle = rng.uniform(0, math.pi)
    centre = (length - 1) / 2
    dx, dy = math.cos(angle) * centre, math.sin(angle) * centre
    cv2.line(kernel, (round(centre - dx), round(centre - dy)), (round(centre + dx), round(centre + dy)), 1.0, 1)
    return cv2.filter2D(image, -1, kernel / kernel.sum())


def _pixelate(image: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    """Digital zoom: down-sample by 1.5-3x and back up, nearest or linear."""
    height, width = image.shape[:2]
    factor = 1.0 + rng.uniform(0.5, 1.5) * strength
    small = cv2.resize(
        image, (max(2, round(width / factor)), max(2, round(height / factor))), interpolation=cv2.INTER_AREA
    )
    interpolation = cv2.INTER_NEAREST if rng.uniform() < 0.5 else cv2.INTER_LINEAR
    return cv2.resize(small, (width, height), interpolation=interpolation)


def _salt_pepper(image: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    height, width = image.shape[:2]
    out = image.copy()
    amount = rng.uniform(0.002, 0.03) * strength
    spots = rng.uniform(size=(height, width)) < amount
    out[spots] = np.where(rng.uniform(size=(int(spots.sum()), 1)) < 0.5, 0.0, 255.0).astype(np.float32)
    return out


def _sharpen(image: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    """Over-sharpening halos, as phone pipelines add."""
    blurred = cv2.GaussianBlur(image, (0, 0), rng.uniform(0.8, 2.0))
    amount = np.float32(rng.uniform(0.5, 2.0) * strength)
    return image + (image - blurred) * amount


# An effect whose size follows the plate: (image, rng, strength, plate height in px) -> image.
Scaled = Callable[[np.ndarray, np.random.Generator, float, float], np.ndarray]

# (name, effect) in the order they are applied.
EFFECTS: tuple[tuple[str, Photometric | Scaled], ...] = (
    ("lighting", _lighting),
    ("shadow", _shadow_hard),
    ("glare", _glare),
    ("cast", _cast),
    ("low_light", _low_light),
    ("defocus", _defocus),
    ("motion", _motion),
    ("pixelate", _pixelate),
    ("sharpen", _sharpen),
    ("noise", _noise),
    ("salt_pepper", _salt_pepper),
)
SCALED: frozenset[str] = frozenset({"glare", "defocus", "motion"})
# Effects that each take much legibility away: at most MAX_HEAVY of them on one crop, so that a
# label rarely names characters nobody could read.
HEAVY: frozenset[str] = frozenset({"glare", "low_light", "defocus", "motion", "pixelate"})
MAX_HEAVY = 2
EFFECT_NAMES: tuple[str, ...] = tuple(name for name, _ in EFFECTS) + ("jpeg",)


def apply_effects(
    image: np.ndarray,
    rng: np.random.Generator,
    probabilities: Mapping[str, float],
    strength: float,
    unit: float,
    jpeg_quality: tuple[int, int] = (20, 95),
) -> tuple[np.ndarray, list[str]]:
    """Apply each effect with its probability, then JPEG; returns the uint8 crop and the effects applied.

    ``unit`` is the plate's height in pixels: blur and glare sizes follow it, not the crop's size.
    """
    out = image.astype(np.float32)
    applied: list[str] = []
    for name, effect in EFFECTS:
        heavy = sum(done in HEAVY for done in applied)
        if rng.uniform() < probabilities.get(name, 0.0) and not (name in HEAVY and heavy >= MAX_HEAVY):
            out = effect(out, rng, strength, unit) if name in SCALED else effect(out, rng, strength)  # type: ignore[call-arg]
            applied.append(name)
    crop = np.clip(out, 0, 255).astype(np.uint8)
    if rng.uniform() < probabilities.get("jpeg", 0.0):
        quality = int(rng.integers(jpeg_quality[0], jpeg_quality[1] + 1))
        ok, data = cv2.imencode(".jpg", crop, [cv2.IMWRITE_JPEG_QUALITY, quality])
        if ok:
            crop = cv2.imdecode(data, cv2.IMREAD_COLOR)
            applied.append("jpeg")
    return crop, applied
