"""Several readings of one plate box -> one answer: a Spanish plate the evidence supports, or none.

The whole-plate reader reads an open alphabet, so it says what is printed whatever the format:
its reading decides the format (``spanish`` when it is ``NNNNAAA``, ``foreign`` for other text,
``none`` when it sees no text). Only a Spanish format is answered. The Chars74K reader, which
can only read ``NNNNAAA``, then adds its evidence (when enough of its variants read seven
characters: ``MIN_CHARS_VOTES``) position by position: the two readers'
per-position probabilities over all 36 classes are multiplied (a product of experts), so where
they agree the answer is surer and where they disagree the surer reader wins, with less
confidence. The answer is the best ``NNNNAAA`` string, and its confidence the joint belief in
that exact string: belief that a position holds a letter where a digit must stand counts against it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from config import CLASSES, PLATE_LENGTH, SPANISH_PLATE
from plateocr.decode import MASKS, Reading
from plateocr.platemodel import SlotReading

_EPS = 1e-9
# The Chars74K reader's evidence joins the whole-plate reader's only when at least this many of its
# variants (filters x views: 6 x up to 2 by default) read seven characters. Fewer means its segmentation
# broke, as it does on tilted and two-row plates, and its forced NNNNAAA guesses would only dilute the
# whole-plate reader's belief. Chosen on a generated validation set of its own (bench/testset.py, seed
# 7171; 2, 3, 4 and 6 tried): recall at 98 % precision 63.1 % -> 66.1 %; on the test sets (seed 2026
# and test6Training, bench/trust.py) 65.0 % -> 65.6 %, and at 99 % precision 62.8 % -> 64.9 %.
MIN_CHARS_VOTES = 3


@dataclass(frozen=True)
class Verdict:
    """The answer for one plate box.

    Attributes:
        text: the Spanish plate answered, or ``""``.
        confidence: the probability that ``text`` is right (calibrated on held-out generated plates).
        char_probs: per-position probabilities of ``text``.
        raw_text: what the open-alphabet reader saw (the Chars74K reading when it is the only reader).
        format: ``spanish``, ``foreign`` or ``none``.
        score: how strongly the box reads as a plate, to choose among candidate boxes.
    """

    text: str
    confidence: float
    char_probs: tuple[float, ...]
    raw_text: str
    format: str
    score: float

    @staticmethod
    def nothing() -> Verdict:
        return Verdict("", 0.0, (), "", "none", 0.0)


def text_format(raw: str) -> str:
    """``spanish`` for ``NNNNAAA``, ``none`` for no text, ``foreign`` for any other text."""
    if SPANISH_PLATE.match(raw):
        return "spanish"
    return "foreign" if raw else "none"


def support(experts: list[np.ndarray], pad: np.ndarray) -> np.ndarray:
    """Per position, each class's share of the readers' joint belief (a product of experts).

    Args:
        experts: ``(7, 36)`` probabilities over every class, one array per reader.
        pad: ``(7,)`` the whole-plate reader's probability that the position holds no character.

    The shares are normalised over all 36 classes, not only over those the format allows, and
    scaled by the chance that a character is there at all: what the readers believe is a letter
    where a digit must stand, or nothing, stays evidence against a Spanish reading.
    """
    log_sum = sum(np.log(np.maximum(p, _EPS)) for p in experts)
    joint = np.exp(log_sum - log_sum.max(axis=1, keepdims=True))
    return joint / joint.sum(axis=1, keepdims=True) * (1.0 - pad)[:, None]


def answer(probs: np.ndarray, extra: float = 1.0) -> tuple[str, float, tuple[float, ...]]:
    """The best ``NNNNAAA`` under per-position ``probs``; its string probability (times ``extra``) and per-position ones."""
    allowed = probs * MASKS
    chosen = allowed.argmax(axis=1)
    char_probs = probs[np.arange(PLATE_LENGTH), chosen]
    confidence = float(np.prod(char_probs)) * extra
    return "".join(CLASSES[i] for i in chosen), confidence, tuple(round(float(p), 4) for p in char_probs)


def arbitrate(chars: Reading | None, plate: SlotReading | None, chars_score: float = 1.0) -> Verdict:
    """One box's answer from the readings the selected readers gave.

    Args:
        chars: the Chars74K reader's voted reading (None when that reader is off).
        plate: the whole-plate reader's reading (None when that reader is off).
        chars_score: the Chars74K reading's plate score (its agreeing variants' weight).
    """
    if plate is None:
        if chars is None or not chars.text:
            return Verdict.nothing()
        return Verdict(chars.text, chars.confidence, chars.char_probs, chars.text, "spanish", chars_score)
    fmt = text_format(plate.text)
    if fmt != "spanish":
        return Verdict("", 0.0, (), plate.text, fmt, 0.0)
    slots = plate.probs
    experts = [slots[:PLATE_LENGTH, : len(CLASSES)]]
    if chars is not None and chars.raw_probs is not None and chars.votes >= MIN_CHARS_VOTES:
        experts.append(chars.raw_probs)
    pad_rest = float(np.prod(slots[PLATE_LENGTH:, -1]))
    text, confidence, char_probs = answer(support(experts, slots[:PLATE_LENGTH, -1]), pad_rest)
    return Verdict(text, confidence, char_probs, plate.text, fmt, confidence)
