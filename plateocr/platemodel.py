"""The whole-plate reader's pure pieces: crop -> model input, text <-> output slots, slots -> text.

The model reads a whole plate crop, without character segmentation, into ``slots`` fixed output
positions over an open alphabet (``0-9A-Z``) plus a pad class, as fast-plate-ocr does: the text is
written left-aligned (top row first on two-row plates) and the remaining slots hold the pad. These
functions are shared by training and reading so the two can never drift apart; nothing here
imports TensorFlow.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from config import PlateModelConfig



# The "local" contrast (PlateModelConfig.contrast): each pixel of the grey crop, resized, against the
# Gaussian-weighted mean and spread of its neighbourhood (sigma an eighth of the input's height, about
# a character's half width), mapped to 0.5 + z / 4; the spread's floor (grey levels) keeps flat paint
# and sensor noise from being blown up into strokes.
LOCAL_SIGMA_SHARE = 1.0 / 8.0
LOCAL_SPREAD_FLOOR = 8.0


def plate_input(image: np.ndarray, cfg: PlateModelConfig) -> np.ndarray:
    """A plate crop (grey, BGR or BGRA, any size) -> ``(height, width, cfg.channels)`` float32 model input.

    Grey, resized to the model's size (area averaging when shrinking), then its levels normalised
    as ``cfg.contrast`` says: ``stretch`` maps the crop's 2nd and 98th percentiles to 0 and 1, so
    low light, glare and colour casts change the raw levels, not what is printed; ``local`` measures
    each pixel against its neighbourhood instead, so a hard shadow across the plate leaves the
    characters on both sides alike; ``dual`` gives both, as two channels.
    """
    if image.ndim == 3:
        code = cv2.COLOR_BGRA2GRAY if image.shape[2] == 4 else cv2.COLOR_BGR2GRAY
        image = cv2.cvtColor(image, code)
    h, w = image.shape[:2]
    shrink = w > cfg.width or h > cfg.height
    resized = cv2.resize(
        image, (cfg.width, cfg.height), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
    ).astype(np.float32)
    channels = []
    if cfg.contrast in ("stretch", "dual"):
        low, high = (float(v) for v in np.percentile(resized, (2.0, 98.0)))
        channels.append((resized - np.float32(low)) / np.float32(max(high - low, 16.0)))
    if cfg.contrast in ("local", "dual"):
        sigma = LOCAL_SIGMA_SHARE * cfg.height
        diff = resized - cv2.GaussianBlur(resized, (0, 0), sigma)
        spread = np.sqrt(cv2.GaussianBlur(diff * diff, (0, 0), sigma))
        channels.append(np.float32(0.5) + np.float32(0.25) * diff / np.maximum(spread, np.float32(LOCAL_SPREAD_FLOOR)))
    return np.clip(np.stack(channels, axis=-1), 0.0, 1.0)


def plate_inputs(images: list[np.ndarray], cfg: PlateModelConfig) -> np.ndarray:
    """Many crops -> one ``(n, height, width, channels)`` batch for a single model call."""
    if not images:
        return np.zeros((0, cfg.height, cfg.width, cfg.channels), np.float32)
    return np.stack([plate_input(im, cfg) for im in images])


def encode_texts(texts: list[str], cfg: PlateModelConfig) -> np.ndarray:
    """Plate texts -> ``(n, slots)`` int32 class indices, left-aligned, padded with the pad class.

    Raises:
        ValueError: a text is longer than the slots or holds a character outside the alphabet.
    """
    index = {c: i for i, c in enumerate(cfg.alphabet)}
    out = np.full((len(texts), cfg.slots), cfg.pad_index, np.int32)
    for row, text in enumerate(texts):
        if len(text) > cfg.slots:
            raise ValueError(f"plate text {text!r} is longer than {cfg.slots} slots")
        try:
            out[row, : len(text)] = [index[c] for c in text]
        except KeyError as exc:
            raise ValueError(f"plate text {text!r} holds {exc.args[0]!r}, not in the alphabet") from None
    return out


@dataclass(frozen=True)
class SlotReading:
    """What the whole-plate reader saw in one crop.

    Attributes:
        text: the open-alphabet reading, pads removed (``""`` when every slot is the pad).
        probs: ``(slots, classes)`` calibrated probabilities of every slot.
        confidence: probability of the whole string: the product of the chosen slots' probabilities.
    """

    text: str
    probs: np.ndarray
    confidence: float


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Softmax over the last axis of ``logits / temperature``."""
    z = np.asarray(logits, np.float64) / temperature
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return (e / e.sum(axis=-1, keepdims=True)).astype(np.float32)


def decode_slots(logits: np.ndarray, cfg: PlateModelConfig, temperature: float = 1.0) -> list[SlotReading]:
    """``(n, slots, classes)`` logits -> one reading per crop (argmax per slot, pads dropped).

    A character after a pad is kept: the model is trained to write left-aligned, so a gap
    is itself a sign of a doubtful reading and shows in the confidence, not in the text.
    """
    probs = softmax(logits, temperature)
    chosen = probs.argmax(axis=-1)
    out = []
    for p, c in zip(probs, chosen):
        text = "".join(cfg.alphabet[i] for i in c if i != cfg.pad_index)
        confidence = float(np.prod(p[np.arange(len(c)), c]))
        out.append(SlotReading(text, p, confidence))
    return out


def fit_temperature(logits: np.ndarray, targets: np.ndarray) -> float:
    """The temperature that minimises the slots' negative log-likelihood (a 1-D search).

    Args:
        logits: ``(n, slots, classes)`` held-out logits.
        targets: ``(n, slots)`` true class indices.
    """
    flat = logits.reshape(-1, logits.shape[-1]).astype(np.float64)
    rows = np.arange(len(flat))
    truth = targets.reshape(-1)

    def nll(t: float) -> float:
        z = flat / t
        z = z - z.max(axis=1, keepdims=True)
        return float(np.mean(np.log(np.exp(z).sum(axis=1)) - z[rows, truth]))

    grid = np.exp(np.linspace(np.log(0.25), np.log(8.0), 61))
    best = min(grid, key=nll)
    fine = best * np.exp(np.linspace(-0.06, 0.06, 13))
    return float(min(fine, key=nll))
