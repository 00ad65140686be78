"""The whole-plate reader's pure pieces and the arbitration between readers (no model needed)."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest

from config import CLASSES, PLATE_ALPHABET, PlateModelConfig
from plateocr.arbitrate import MIN_CHARS_VOTES, Verdict, arbitrate, text_format
from plateocr.decode import MASKS, Reading
from plateocr.platemodel import (
    SlotReading,
    decode_slots,
    encode_texts,
    fit_temperature,
    plate_input,
    softmax,
)
from plateocr.plates import Box

CFG = PlateModelConfig()


def logits_for(text: str, sure: float = 12.0) -> np.ndarray:
    """Logits that read ``text`` (left-aligned, pads after) with margin ``sure``."""
    targets = encode_texts([text], CFG)[0]
    logits = np.zeros((CFG.slots, len(PLATE_ALPHABET)), np.float32)
    logits[np.arange(CFG.slots), targets] = sure
    return logits


def slot_reading(text: str, sure: float = 12.0) -> SlotReading:
    return decode_slots(logits_for(text, sure)[None], CFG)[0]


def test_encode_left_aligns_and_pads():
    codes = encode_texts(["1234BCD", "AB123CD", ""], CFG)
    assert codes.shape == (3, CFG.slots)
    assert "".join(PLATE_ALPHABET[i] for i in codes[0]) == "1234BCD" + "_" * (CFG.slots - 7)
    assert (codes[2] == CFG.pad_index).all()


@pytest.mark.parametrize("bad", ["1234BCDFGHJ", "12-34", "abc"])
def test_encode_rejects_what_the_slots_cannot_hold(bad):
    with pytest.raises(ValueError, match=repr(bad)[1:-1][:5]):
        encode_texts([bad], CFG)


@pytest.mark.parametrize("text", ["1234BCD", "AB123CD", "M1234AB", "", "GR1234AB"])
def test_decode_reads_back_what_was_encoded(text):
    reading = slot_reading(text)
    assert reading.text == text
    assert reading.confidence > 0.99
    assert reading.probs.shape == (CFG.slots, len(PLATE_ALPHABET))


def test_confidence_is_the_string_probability():
    logits = logits_for("1234BCD", sure=2.0)
    reading = decode_slots(logits[None], CFG)[0]
    per_slot = softmax(logits).max(axis=1)
    assert reading.confidence == pytest.approx(float(np.prod(per_slot)), rel=1e-5)
    # A higher temperature spreads the probabilities: the same reading, less sure.
    hotter = decode_slots(logits[None], CFG, temperature=2.0)[0]
    assert hotter.text == reading.text and hotter.confidence < reading.confidence


def test_fit_temperature_recovers_the_true_scale():
    rng = np.random.default_rng(0)
    true_logits = rng.normal(0, 2.0, size=(4000, 1, 10))
    labels = np.array([rng.choice(10, p=p) for p in softmax(true_logits[:, 0])])[:, None]
    # A model three times too sure: its temperature should come out near 3.
    assert fit_temperature(true_logits * 3.0, labels) == pytest.approx(3.0, rel=0.15)


def test_plate_input_shape_range_and_colour_cast():
    rng = np.random.default_rng(1)
    grey = np.full((40, 160), 230, np.uint8)
    grey[10:30, 20:140:12] = 20  # dark strokes on a light plate
    grey = np.clip(grey + rng.normal(0, 3, grey.shape), 0, 255).astype(np.uint8)
    bgr = np.dstack([grey] * 3)
    cast = np.clip(bgr * np.array([1.0, 0.7, 0.45]), 0, 255).astype(np.uint8)  # a strong blue cast, darker
    plain, tinted = plate_input(bgr, CFG), plate_input(cast, CFG)
    assert plain.shape == tinted.shape == (CFG.height, CFG.width, 1)
    assert plain.dtype == np.float32 and 0.0 <= plain.min() and plain.max() <= 1.0
    # Contrast stretching undoes a colour cast and low light on a black-on-white plate.
    assert np.abs(plain - tinted).mean() < 0.05


def test_local_contrast_reads_both_sides_of_a_shadow_edge_alike():
    rng = np.random.default_rng(2)
    grey = np.full((40, 160), 225, np.uint8)
    grey[8:32, 10:150:14] = 30  # dark strokes on a light plate
    grey = np.clip(grey + rng.normal(0, 3, grey.shape), 0, 255).astype(np.uint8)
    shaded = grey.copy()
    shaded[:, :80] = (shaded[:, :80] * 0.45).astype(np.uint8)  # a hard shadow over the left half
    left = np.s_[:, : CFG.width // 2 - 12]  # the shaded side, off the edge's halo
    local = dataclasses.replace(CFG, contrast="local")
    plain, dark = plate_input(grey, local), plate_input(shaded, local)
    assert plain.shape == (CFG.height, CFG.width, 1) and plain.dtype == np.float32
    assert 0.0 <= dark.min() and dark.max() <= 1.0
    # Stretched over the whole crop, the shaded side's paint sinks towards its strokes; measured
    # locally, it reads as it does unshaded.
    assert np.abs(plate_input(grey, CFG) - plate_input(shaded, CFG))[left].mean() > 0.2
    assert np.abs(plain - dark)[left].mean() < 0.05
    # The strokes stay dark and the paint light on both sides.
    strokes = cv2.resize(grey, (CFG.width, CFG.height), interpolation=cv2.INTER_AREA) < 128
    for side in (left, np.s_[:, CFG.width // 2 + 12 :]):
        assert dark[side][strokes[side]].mean() < 0.3 and dark[side][~strokes[side]].mean() > 0.5
    # Flat paint is not blown up into strokes: its noise stays near the middle grey, far from a stroke's dark.
    flat = plate_input(np.clip(225 + rng.normal(0, 3, (40, 160)), 0, 255).astype(np.uint8), local)
    assert np.abs(flat - 0.5).mean() < 0.1 and flat.min() > 0.15
    # Both, as two channels: the stretch first, the local contrast second.
    dual = plate_input(shaded, dataclasses.replace(CFG, contrast="dual"))
    assert dual.shape == (CFG.height, CFG.width, 2) and dataclasses.replace(CFG, contrast="dual").channels == 2
    assert np.array_equal(dual[..., :1], plate_input(shaded, CFG)) and np.array_equal(dual[..., 1:], dark)
    with pytest.raises(ValueError, match="contrast"):
        dataclasses.replace(CFG, contrast="clahe").validate()


def chars_reading(text: str, sure: float = 0.9) -> Reading:
    """A Chars74K reading of ``text`` with probability ``sure`` at every position."""
    probs = np.zeros((7, len(CLASSES)))
    raw = np.full((7, len(CLASSES)), (1 - sure) / (len(CLASSES) - 1))
    for pos, char in enumerate(text):
        allowed = MASKS[pos]
        probs[pos, allowed] = (1 - sure) / (allowed.sum() - 1)
        probs[pos, CLASSES.index(char)] = sure
        raw[pos, CLASSES.index(char)] = sure
    return Reading(text, sure, (sure,) * 7, 6, probs=probs, raw_probs=raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("1234BCD", "spanish"), ("AB123CD", "foreign"), ("1234BCA", "foreign"), ("M1234AB", "foreign"), ("", "none")],
)
def test_format_of_what_was_seen(raw, expected):
    assert text_format(raw) == expected


def test_foreign_and_empty_readings_are_not_answered():
    for raw, fmt in (("AB123CD", "foreign"), ("", "none")):
        verdict = arbitrate(chars_reading("1234BCD", 0.99), slot_reading(raw))
        assert verdict.text == "" and verdict.format == fmt and verdict.raw_text == raw
        assert verdict.confidence == 0.0


def test_agreeing_readers_answer_with_more_confidence_than_one():
    plate = slot_reading("1234BCD", sure=3.0)
    alone = arbitrate(None, plate)
    both = arbitrate(chars_reading("1234BCD", 0.9), plate)
    assert alone.text == both.text == "1234BCD" and both.format == "spanish"
    assert both.confidence > alone.confidence
    assert len(both.char_probs) == 7


def test_where_readers_disagree_the_surer_one_wins_that_position():
    logits = logits_for("1234BCD", sure=3.0)
    logits[2, PLATE_ALPHABET.index("8")] = 2.6  # the plate reader hesitates between 3 and 8
    verdict = arbitrate(chars_reading("1284BCD", 0.95), decode_slots(logits[None], CFG)[0])
    assert verdict.text == "1284BCD"
    assert verdict.raw_text == "1234BCD"
    assert verdict.char_probs[2] == min(verdict.char_probs)


def test_a_chars_reading_few_variants_agree_on_does_not_sway_the_plate_reader():
    """A Chars74K reading that only one or two filter variants produced (its segmentation broke, as on
    a tilted plate) is left out; read by enough variants, it counts."""
    logits = logits_for("1234BCD", sure=3.0)
    logits[2, PLATE_ALPHABET.index("8")] = 2.6
    plate = decode_slots(logits[None], CFG)[0]
    broken = dataclasses.replace(chars_reading("1284BCD", 0.95), votes=MIN_CHARS_VOTES - 1)
    assert arbitrate(broken, plate) == arbitrate(None, plate)
    assert arbitrate(broken, plate).text == "1234BCD"
    agreed = dataclasses.replace(broken, votes=MIN_CHARS_VOTES)
    assert arbitrate(agreed, plate).text == "1284BCD"


def test_platt_fit_recovers_a_known_logistic_map():
    from plateocr.calibrate import Platt, fit_platt

    rng = np.random.default_rng(3)
    raw = rng.uniform(0.01, 0.99, 20000)
    truth = Platt(1.6, -0.8)
    right = rng.uniform(size=raw.size) < np.array([truth(r) for r in raw])
    fit = fit_platt(raw, right)
    assert fit.a == pytest.approx(1.6, abs=0.1) and fit.b == pytest.approx(-0.8, abs=0.1)
    assert fit_platt(raw[:10], np.ones(10, bool)) == Platt()  # all right: nothing to fit


def test_chars_reader_alone_keeps_the_port_behaviour():
    reading = chars_reading("1234BCD", 0.8)
    verdict = arbitrate(reading, None, chars_score=2.5)
    assert verdict == Verdict("1234BCD", 0.8, reading.char_probs, "1234BCD", "spanish", 2.5)
    assert arbitrate(Reading.empty(), None) == Verdict.nothing()


def test_belief_in_a_letter_where_a_digit_stands_lowers_the_confidence():
    spanish = logits_for("1328FNN", sure=8.0)
    british = spanish.copy()
    british[0, PLATE_ALPHABET.index("V")] = 7.6  # the first character may well be a V: a British plate
    sure, doubtful = (arbitrate(None, decode_slots(x[None], CFG)[0]) for x in (spanish, british))
    assert sure.text == doubtful.text == "1328FNN"
    assert doubtful.confidence < 0.7 * sure.confidence


def test_a_tight_crop_answers_only_what_its_box_or_another_crop_of_it_answers():
    # The localiser's best box is also read shrunk (PlateReader.with_tight_crops): reading one plate
    # several times must not give a wrong answer several chances, so a tight crop's answer stands only
    # where its box, or another crop of that box, answers the same; then the surest is given.
    from plateocr.calibrate import Platt
    from plateocr.recognize import decide

    loose, tight_agreeing, tight_other = slot_reading("1234BCD", 3.0), slot_reading("1234BCD", 8.0), slot_reading("1284BCD", 6.0)
    nothing = [(None, 0.0), (None, 0.0)]

    verdict, index = decide(nothing, [loose, tight_other], [1.0, 1.0], "plate", Platt())
    assert (verdict.text, index) == ("1284BCD", 1)  # two unrelated boxes: the surer wins
    verdict, index = decide(nothing, [loose, tight_other], [1.0, 1.0], "plate", Platt(), [-1, 0])
    assert (verdict.text, index) == ("1234BCD", 0)  # the tight crop disagrees: its box's answer stands
    verdict, index = decide(nothing, [loose, tight_agreeing], [1.0, 1.0], "plate", Platt(), [-1, 0])
    assert (verdict.text, index) == ("1234BCD", 1)
    assert verdict.confidence > arbitrate(None, loose).confidence
    verdict, index = decide(nothing, [slot_reading("AB123CD"), tight_other], [1.0, 1.0], "plate", Platt(), [-1, 0])
    assert verdict.text == ""  # its box saw a foreign plate: no Spanish answer from the crop either

    # Two crops of one box (cfg.tight_shares) that agree confirm each other, whatever the box read;
    # crops of another box, or a crop that agrees with none, confirm nothing.
    three = [(None, 0.0)] * 3
    verdict, index = decide(three, [loose, tight_other, slot_reading("1284BCD", 5.0)], [1.0] * 3, "plate", Platt(), [-1, 0, 0])
    assert (verdict.text, index) == ("1284BCD", 1)
    verdict, index = decide(three, [loose, tight_other, slot_reading("1289BCD", 9.0)], [1.0] * 3, "plate", Platt(), [-1, 0, 0])
    assert (verdict.text, index) == ("1234BCD", 0)  # the two crops disagree: only the box stands
    other_box = slot_reading("5678FGH", 1.0)
    verdict, index = decide(
        [(None, 0.0)] * 4, [loose, other_box, tight_other, slot_reading("1284BCD", 5.0)], [1.0] * 4, "plate", Platt(), [-1, -1, 0, 1]
    )
    assert (verdict.text, index) == ("1234BCD", 0)  # crops of different boxes: neither confirms the other
    verdict, index = decide(three, [slot_reading("AB123CD"), tight_other, slot_reading("1284BCD", 5.0)], [1.0] * 3, "plate", Platt(), [-1, 0, 0])
    assert (verdict.text, index) == ("1284BCD", 1)  # two crops read a Spanish plate where the loose box did not


def test_with_both_readers_the_chars_reader_reads_only_boxes_the_plate_reader_saw_a_spanish_plate_in(
    tiny_model, tiny_plate_model
):
    # arbitrate weighs the Chars74K reader's evidence only where the whole-plate reading is NNNNAAA, so in
    # `both` mode the other boxes are not read by it (the localiser's many boxes made it most of the time
    # without labels); the answer is the one reading every box gives.
    import dataclasses

    from config import RecognizeConfig
    from plateocr.recognize import PlateCandidate, PlateReader, decide

    reader = PlateReader(tiny_model, dataclasses.replace(RecognizeConfig(), plate_model=tiny_plate_model, reader="both"))
    seen = [slot_reading("1234BCD", 3.0), slot_reading("AB123CD"), slot_reading(""), slot_reading("5678FGH", 2.0)]
    reader.read_views = lambda image, boxes, levelled=None: seen[: len(boxes)]  # type: ignore[method-assign]
    crops: list[np.ndarray] = []
    read = reader.chars.read
    reader.chars.read = lambda plates: crops.extend(plates) or read(plates)  # type: ignore[method-assign]
    image = np.random.default_rng(3).integers(0, 255, (120, 200, 3), np.uint8)
    boxes = [Box(10, 10, 90, 30), Box(100, 10, 90, 30), Box(10, 60, 90, 30), Box(100, 70, 90, 30)]
    candidates = [PlateCandidate(b, "localiser") for b in boxes]

    chars, plates = reader.evidence(image, candidates, every_box=False)
    assert [c.shape for c in crops] == [(30, 90, 3), (30, 90, 3)]
    assert np.array_equal(crops[0], image[10:40, 10:100]) and np.array_equal(crops[1], image[70:100, 100:190])
    assert chars[1] == chars[2] == (None, 0.0) and chars[0][0] is not None and chars[3][0] is not None
    every, _ = reader.evidence(image, candidates)
    assert len(crops) == 2 + 4
    assert [(r.text, score) for r, score in (every[0], every[3])] == [(r.text, score) for r, score in (chars[0], chars[3])]
    priors = [1.0] * 4
    assert decide(chars, plates, priors, "both", reader.calibration) == decide(every, plates, priors, "both", reader.calibration)

    crops.clear()
    reader.read_candidates(image, candidates)  # reading an image in both mode skips them too
    assert len(crops) == 2
