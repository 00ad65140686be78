"""Format-constrained decoding (NNNNAAA) and the vote across filter variants."""

from __future__ import annotations

import numpy as np
import pytest

from config import CLASSES, DIGITS, LETTERS, SPANISH_LETTERS, SPANISH_PLATE
from plateocr.decode import Reading, box_prior, decode_plate, vote

N = len(CLASSES)
VOWELS = "AEIOU"


def distribution(weights: dict[str, float], floor: float = 0.0) -> np.ndarray:
    """A softmax-like row: the given characters' weights, ``floor`` elsewhere, summing to one."""
    row = np.full(N, floor)
    for char, weight in weights.items():
        row[CLASSES.index(char)] = weight
    return row / row.sum()


def peaked(text: str, top: float = 0.9) -> np.ndarray:
    """One row per character of ``text``, ``top`` on it and the rest spread evenly."""
    rest = (1 - top) / (N - 1)
    return np.stack([distribution({c: top}, floor=rest) for c in text])


def flat(n: int = 1) -> np.ndarray:
    return np.full((n, N), 1.0 / N)


def test_classes_split_into_digits_and_spanish_consonants():
    # The decoder's assumptions about the alphabet.
    assert set(SPANISH_LETTERS) == set(LETTERS) - set(VOWELS) - {"Q"}
    assert "Ñ" not in CLASSES


def test_o_like_boxes_read_as_zero_in_the_digit_positions():
    o_like = distribution({"O": 0.55, "D": 0.2, "Q": 0.1, "0": 0.1, "8": 0.05})
    probs = np.stack([o_like] * 4 + [distribution({"B": 1.0})] * 3)
    decoded = decode_plate(probs)
    assert decoded is not None
    assert decoded.text == "0000BBB"


def test_letter_positions_never_read_a_vowel_or_q():
    # Vowels and Q take most of the mass; the best consonant must still win.
    probs = np.stack(
        [distribution({"1": 1.0})] * 4
        + [
            distribution({"A": 0.4, "Q": 0.3, "R": 0.2, "E": 0.1}),
            distribution({"O": 0.5, "0": 0.3, "D": 0.15, "C": 0.05}),
            distribution({"I": 0.6, "1": 0.3, "T": 0.07, "L": 0.03}),
        ]
    )
    decoded = decode_plate(probs)
    assert decoded is not None
    assert decoded.text == "1111RDT"


def test_random_distributions_always_decode_to_the_spanish_format():
    rng = np.random.default_rng(11)
    for n in (7, 8, 12):
        for _ in range(20):
            probs = rng.dirichlet(np.full(N, 0.3), size=n)
            decoded = decode_plate(probs)
            assert decoded is not None
            assert SPANISH_PLATE.match(decoded.text), decoded.text
            for position, char in enumerate(decoded.text):
                assert char in (DIGITS if position < 4 else SPANISH_LETTERS)


def test_constrained_rows_are_distributions_over_the_allowed_classes():
    rng = np.random.default_rng(5)
    decoded = decode_plate(rng.dirichlet(np.ones(N), size=9))
    assert decoded is not None
    assert decoded.probs.shape == (7, N)
    np.testing.assert_allclose(decoded.probs.sum(axis=1), 1.0, rtol=1e-6)
    letters_allowed = np.array([c in SPANISH_LETTERS for c in CLASSES])
    digits_allowed = np.array([c in DIGITS for c in CLASSES])
    assert np.all(decoded.probs[:4, ~digits_allowed] == 0)
    assert np.all(decoded.probs[4:, ~letters_allowed] == 0)


@pytest.mark.parametrize("noise_at", [(0, 5), (0, 8), (4, 5), (7, 8), (2, 3)])
def test_decode_skips_two_flat_noise_boxes(noise_at):
    plate = "4829KLM"
    real = iter(peaked(plate))
    rows = [flat(1)[0] if i in noise_at else next(real) for i in range(9)]
    decoded = decode_plate(np.stack(rows))
    assert decoded is not None
    assert decoded.text == plate
    assert decoded.box_indices == tuple(i for i in range(9) if i not in noise_at)
    assert decoded.log_score == pytest.approx(7 * np.log(0.9), abs=1e-6)


def test_decode_keeps_the_boxes_left_to_right_order():
    # A confident 'B' before the digits cannot be moved to the letter positions.
    rows = np.concatenate([peaked("B"), peaked("1234BCD")])
    decoded = decode_plate(rows)
    assert decoded is not None
    assert decoded.box_indices == (1, 2, 3, 4, 5, 6, 7)
    assert decoded.text == "1234BCD"


def test_prior_lets_decode_skip_a_box_with_the_wrong_geometry():
    # Eight equally confident boxes (either "4" fits): the prior alone says which one is not a character.
    heights = np.array([70.0, 70, 70, 34, 70, 70, 70, 70])
    widths = np.array([40.0, 40, 40, 30, 40, 40, 40, 40])
    prior = box_prior(heights, widths)
    decoded = decode_plate(peaked("12344BCD"), prior)
    assert decoded is not None
    assert decoded.box_indices == (0, 1, 2, 4, 5, 6, 7)
    assert decoded.text == "1234BCD"


def test_box_prior_prefers_boxes_of_the_rows_height_and_not_slivers():
    heights = np.array([70.0, 70, 70, 70, 70, 35, 105, 70])
    widths = np.array([40.0, 40, 40, 40, 40, 20, 60, 3])
    prior = box_prior(heights, widths)
    assert prior.shape == heights.shape
    typical = prior[0]
    assert np.allclose(prior[:5], typical)
    assert prior[5] < typical and prior[6] < typical and prior[7] < typical
    assert box_prior(np.array([]), np.array([])).shape == (0,)


@pytest.mark.parametrize("n", [0, 1, 6])
def test_fewer_than_seven_boxes_decode_to_none(n):
    assert decode_plate(peaked("1234BCD")[:n].reshape(n, N)) is None


def test_vote_follows_the_majority():
    agree = decode_plate(peaked("1234BCD", top=0.8))
    dissent = decode_plate(peaked("5678FGH", top=0.8))
    reading = vote([agree, dissent, agree])
    assert reading.text == "1234BCD"
    assert reading.votes == 3


def test_vote_averages_probabilities_rather_than_counting_texts():
    # One very sure variant outweighs two unsure ones that agree on a different first digit.
    sure = decode_plate(np.concatenate([peaked("7", top=0.99), peaked("234BCD")]))
    unsure = decode_plate(np.concatenate([distribution({"1": 0.4, "7": 0.35}, floor=0.01)[None], peaked("234BCD")]))
    assert unsure.text[0] == "1"
    assert vote([sure, unsure, unsure]).text == "7234BCD"


def equally_sure_variant(rng: np.random.Generator) -> np.ndarray:
    """Seven rows whose best allowed probability is always 0.5 but whose characters vary.

    Every such variant has the same decoding score, so any weighting in the vote is uniform
    and the expected average is simply the mean of the rows.
    """
    rows = []
    for position in range(7):
        allowed = DIGITS if position < 4 else SPANISH_LETTERS
        first, second, third = rng.choice(list(allowed), size=3, replace=False)
        rows.append(distribution({first: 0.5, second: 0.3, third: 0.2}))
    return np.stack(rows)


def test_confidence_is_the_lowest_per_position_probability():
    rng = np.random.default_rng(2)
    rows = [equally_sure_variant(rng) for _ in range(3)]
    reading = vote([decode_plate(r) for r in rows])

    mean = np.mean(rows, axis=0)
    best = mean.max(axis=1)
    assert reading.text == "".join(CLASSES[i] for i in mean.argmax(axis=1))
    assert 0.0 <= reading.confidence <= 1.0
    assert reading.confidence == pytest.approx(best.min(), abs=1e-6)
    assert reading.char_probs == pytest.approx(tuple(best), abs=1e-4)
    assert reading.confidence == pytest.approx(min(reading.char_probs), abs=1e-4)


def test_confidence_stays_in_unit_interval_for_any_variants():
    rng = np.random.default_rng(9)
    for _ in range(20):
        decodings = [decode_plate(rng.dirichlet(np.full(N, 0.4), size=9)) for _ in range(int(rng.integers(1, 6)))]
        reading = vote(decodings)
        assert 0.0 <= reading.confidence <= 1.0
        assert reading.confidence == pytest.approx(min(reading.char_probs), abs=1e-4)
        assert SPANISH_PLATE.match(reading.text)
        assert reading.votes == len(decodings)


def test_unanimous_sure_variants_give_high_confidence():
    reading = vote([decode_plate(peaked("9999ZZZ", top=0.99))] * 4)
    assert reading.text == "9999ZZZ"
    assert 0.98 < reading.confidence <= 1.0


def test_empty_vote_is_an_empty_reading():
    reading = vote([])
    assert reading == Reading.empty()
    assert reading.text == "" and reading.confidence == 0.0 and reading.char_probs == () and reading.votes == 0
