"""The Spanish plate format, format-constrained decoding and the vote across filter variants."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from config import CLASSES, DIGITS, PLATE_LENGTH, SPANISH_LETTERS

_EPS = 1e-9


def position_masks(classes: tuple[str, ...] = CLASSES) -> np.ndarray:
    """``(7, n_classes)`` boolean mask: positions 1-4 allow digits, 5-7 the 20 consonants."""
    digits = np.array([c in DIGITS for c in classes])
    letters = np.array([c in SPANISH_LETTERS for c in classes])
    return np.stack([digits] * 4 + [letters] * 3)


MASKS = position_masks()


@dataclass(frozen=True)
class Decoded:
    """One variant's reading: which boxes were used and the constrained probabilities per position."""

    box_indices: tuple[int, ...]
    probs: np.ndarray  # (7, n_classes), each row renormalised over the position's allowed classes
    log_score: float  # sum over positions of log(best allowed probability)
    # (7, n_classes) the chosen boxes' probabilities over every class: the mass a position puts on
    # classes the format does not allow there is evidence against the plate being Spanish.
    raw: np.ndarray | None = field(default=None, compare=False, repr=False)

    @property
    def text(self) -> str:
        return "".join(CLASSES[i] for i in np.argmax(self.probs, axis=1))


@dataclass(frozen=True)
class Reading:
    """The voted reading of one plate."""

    text: str
    confidence: float  # the lowest per-position probability of the chosen characters
    char_probs: tuple[float, ...]
    votes: int  # variants that produced a 7-character reading
    # (7, n_classes) voted per-position probabilities, constrained to the format and over every
    # class (None for an empty reading).
    probs: np.ndarray | None = field(default=None, compare=False, repr=False)
    raw_probs: np.ndarray | None = field(default=None, compare=False, repr=False)

    @staticmethod
    def empty() -> Reading:
        return Reading("", 0.0, (), 0)


def confirmed_crops(texts: list[str], tightens: list[int] | None) -> list[bool]:
    """Which boxes' readings may stand: a box cut tighter from another (``tightens[i]`` >= 0, its index)
    stands only where its box, or another tight crop of that box, reads the same.

    Reading one plate several times must not give a wrong answer several chances: a crop's reading
    needs a second read of the same plate behind it. Boxes cut from no other always stand.
    """
    parents = tightens or [-1] * len(texts)
    return [
        parent < 0
        or text == texts[parent]
        or any(j != i and other == parent and texts[j] == text for j, other in enumerate(parents))
        for i, (text, parent) in enumerate(zip(texts, parents))
    ]


def constrain(probs: np.ndarray) -> np.ndarray:
    """Per-position probabilities restricted to the allowed classes and renormalised."""
    masked = probs * MASKS
    return masked / np.maximum(masked.sum(axis=1, keepdims=True), _EPS)


def box_prior(heights: np.ndarray, widths: np.ndarray) -> np.ndarray:
    """Log-prior that each box is one of the plate's characters, from its geometry alone.

    A plate's characters share one height; fragments of the frame, the EU band's
    letter and screws are shorter or taller, and slivers are narrower than any glyph.
    """
    if len(heights) == 0:
        return np.zeros(0)
    median = float(np.median(heights))
    deviation = (heights - median) / max(median, 1.0)
    narrow = np.clip(0.22 - widths / np.maximum(heights, 1.0), 0.0, None)
    return -12.0 * deviation**2 - 60.0 * narrow


def decode_plate(probs: np.ndarray, prior: np.ndarray | None = None) -> Decoded | None:
    """Choose 7 of the ``n`` ordered boxes that best read as ``NNNNAAA``.

    Dynamic programming over (box, position): boxes keep their left-to-right
    order, extra boxes (screws, the EU band, noise) are skipped, and each
    position is scored only over the classes it allows, so an ``O``-looking
    digit is read as ``0`` from its class probabilities, not patched after.

    Args:
        probs: ``(n, n_classes)`` softmax outputs of the character boxes, left to right.
        prior: optional ``(n,)`` log-prior of each box being a character (see ``box_prior``).

    Returns:
        The best decoding, or None with fewer than 7 boxes.
    """
    n = len(probs)
    if n < PLATE_LENGTH:
        return None
    # score[i, p]: log of box i's best allowed probability at position p.
    score = np.log(np.maximum((probs[:, None, :] * MASKS[None]).max(axis=2), _EPS))
    if prior is not None:
        score = score + prior[:, None]
    best = np.full((n + 1, PLATE_LENGTH + 1), -np.inf)
    best[:, 0] = 0.0
    took = np.zeros((n + 1, PLATE_LENGTH + 1), dtype=bool)
    for i in range(1, n + 1):
        for p in range(1, min(i, PLATE_LENGTH) + 1):
            skip = best[i - 1, p]
            take = best[i - 1, p - 1] + score[i - 1, p - 1]
            took[i, p] = take >= skip
            best[i, p] = max(skip, take)
    chosen: list[int] = []
    i, p = n, PLATE_LENGTH
    while p > 0:
        if took[i, p]:
            chosen.append(i - 1)
            p -= 1
        i -= 1
    chosen.reverse()
    return Decoded(tuple(chosen), constrain(probs[chosen]), float(best[n, PLATE_LENGTH]), probs[chosen])


def variant_weight(decoded: Decoded) -> float:
    """A variant's say in the vote: the geometric mean of its chosen boxes' scores."""
    return float(np.exp(decoded.log_score / PLATE_LENGTH))


def vote(decodings: list[Decoded]) -> Reading:
    """Average the variants' per-position probabilities, each weighted by its own confidence."""
    if not decodings:
        return Reading.empty()
    weights = np.array([variant_weight(d) for d in decodings]) + _EPS
    weights = weights / weights.sum()
    mean = constrain(np.tensordot(weights, np.stack([d.probs for d in decodings]), axes=1))
    raw = [d.raw for d in decodings]
    raw_mean = np.tensordot(weights, np.stack(raw), axes=1) if all(r is not None for r in raw) else None
    chosen = np.argmax(mean, axis=1)
    char_probs = mean[np.arange(PLATE_LENGTH), chosen]
    return Reading(
        text="".join(CLASSES[i] for i in chosen),
        confidence=float(char_probs.min()),
        char_probs=tuple(round(float(p), 4) for p in char_probs),
        votes=len(decodings),
        probs=mean,
        raw_probs=raw_mean,
    )
