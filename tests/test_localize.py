"""Tests of the plate localiser (``plateocr.localize``) on synthetic scenes and, when present, real photos."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest

import config
from bench.localize_bench import read_plate_boxes
from conftest import turned_photo
from plateocr import synth
from plateocr.localize import Candidate, find_plate_candidates, iou

# (canvas (h, w), plate width in px); every seventh scene holds a two-row plate.
SCENE_CASES = (
    [((416, 416), w) for w in (60, 80, 100, 120, 150, 200)]
    + [((600, 800), w) for w in (60, 100, 160, 250)]
    + [((720, 1280), w) for w in (80, 120, 200, 300)]
    + [((1500, 2000), w) for w in (120, 200, 400)]
    + [((3000, 4000), w) for w in (200, 300, 400)]
)
# Measured on these 20 scenes: 18 in the top 1 and 18 in the top 5 (the two misses are a heavily
# blurred 60 px plate in a 416 px image and a 80 px plate under a deep shadow).
MIN_TOP5_SCENES = 18
MIN_TOP1_SCENES = 16
# Measured on the 21 Spanish-named photos of test6Training: 20 in the top 5 (and 20 in the top 1).
MIN_TOP5_SPANISH = 19
REAL_DATA_DIRS = (config.DEFAULT_MIRROR / "test6Training", config.DATA_DIR / "test6Training")


@pytest.fixture(scope="module")
def scene_results() -> list[tuple[synth.Scene, list[Candidate]]]:
    results = []
    for seed, (canvas, width) in enumerate(SCENE_CASES):
        scene = synth.make_scene(
            np.random.default_rng(1000 + seed), canvas, plate_width=float(width), two_rows=seed % 7 == 3
        )
        results.append((scene, find_plate_candidates(scene.image)))
    return results


def _clutter_without_plate(seed: int, size: tuple[int, int] = (480, 640)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    image = np.full((*size, 3), rng.integers(60, 200, size=3), np.uint8)
    for _ in range(40):
        x, y = int(rng.integers(0, size[1])), int(rng.integers(0, size[0]))
        colour = tuple(int(c) for c in rng.integers(0, 256, size=3))
        end = (x + int(rng.integers(5, 200)), y + int(rng.integers(5, 150)))
        if rng.uniform() < 0.5:
            cv2.rectangle(image, (x, y), end, colour, -1)
        else:
            cv2.line(image, (x, y), end, colour, int(rng.integers(1, 4)))
    return image


def test_iou() -> None:
    assert iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert iou((0, 0, 10, 10), (10, 0, 10, 10)) == 0.0
    assert iou((0, 0, 10, 10), (5, 0, 10, 10)) == pytest.approx(50 / 150)
    assert iou((0, 0, 0, 0), (0, 0, 0, 0)) == 0.0


def test_candidate_is_frozen() -> None:
    candidate = Candidate(box=(1, 2, 3, 4), score=1.0, source="chars")
    with pytest.raises(dataclasses.FrozenInstanceError):
        candidate.score = 2.0  # type: ignore[misc]


def test_synthetic_plates_are_in_the_top_five(
    scene_results: list[tuple[synth.Scene, list[Candidate]]],
) -> None:
    found = sum(
        any(iou(c.box, scene.plate_box) >= 0.5 for c in candidates) for scene, candidates in scene_results
    )
    assert found >= MIN_TOP5_SCENES


def test_synthetic_plates_mostly_rank_first(
    scene_results: list[tuple[synth.Scene, list[Candidate]]],
) -> None:
    first = sum(bool(candidates) and iou(candidates[0].box, scene.plate_box) >= 0.5
                for scene, candidates in scene_results)
    assert first >= MIN_TOP1_SCENES


def test_candidates_are_ranked_and_inside_the_image(
    scene_results: list[tuple[synth.Scene, list[Candidate]]],
) -> None:
    for scene, candidates in scene_results:
        height, width = scene.image.shape[:2]
        assert 0 < len(candidates) <= 5
        scores = [c.score for c in candidates]
        assert scores == sorted(scores, reverse=True)
        for x, y, w, h in (c.box for c in candidates):
            assert x >= 0 and y >= 0 and w > 0 and h > 0 and x + w <= width and y + h <= height
        assert {c.source for c in candidates} <= {"chars", "morph", "band", "quad"}


def test_max_candidates_is_respected(scene_results: list[tuple[synth.Scene, list[Candidate]]]) -> None:
    scene = scene_results[0][0]
    assert len(find_plate_candidates(scene.image, max_candidates=2)) <= 2
    assert find_plate_candidates(scene.image, max_candidates=0) == []


def test_plain_images_give_no_candidates() -> None:
    assert find_plate_candidates(np.full((300, 400, 3), 128, np.uint8)) == []
    gradient = np.tile(np.linspace(0, 255, 400, dtype=np.uint8), (300, 1))
    assert find_plate_candidates(cv2.cvtColor(gradient, cv2.COLOR_GRAY2BGR)) == []


def test_clutter_without_plate_scores_below_real_plates(
    scene_results: list[tuple[synth.Scene, list[Candidate]]],
) -> None:
    plate_scores = [
        next(c.score for c in candidates if iou(c.box, scene.plate_box) >= 0.5)
        for scene, candidates in scene_results
        if any(iou(c.box, scene.plate_box) >= 0.5 for c in candidates)
    ]
    for seed in range(3):
        candidates = find_plate_candidates(_clutter_without_plate(seed))
        assert all(c.score < np.median(plate_scores) for c in candidates)


@pytest.mark.parametrize("image", [
    np.zeros((1, 1, 3), np.uint8),
    np.zeros((0, 0, 3), np.uint8),
    np.zeros((5, 7), np.uint8),
    np.full((20, 3, 3), 255, np.uint8),
    np.random.default_rng(0).integers(0, 256, (64, 48), dtype=np.uint8),
    np.random.default_rng(1).integers(0, 256, (60, 80, 4), dtype=np.uint8),
    np.random.default_rng(2).random((50, 90, 3)),
    np.random.default_rng(3).integers(0, 256, (40, 40, 1), dtype=np.uint8),
], ids=["1x1", "empty", "tiny-grey", "thin", "grey", "bgra", "float", "one-channel"])
def test_degenerate_inputs_do_not_crash(image: np.ndarray) -> None:
    candidates = find_plate_candidates(image)
    assert isinstance(candidates, list) and len(candidates) <= 5


def test_greyscale_input_finds_the_plate() -> None:
    scene = synth.make_scene(np.random.default_rng(1002), (416, 416), plate_width=100.0)
    grey = cv2.cvtColor(scene.image, cv2.COLOR_BGR2GRAY)
    assert any(iou(c.box, scene.plate_box) >= 0.5 for c in find_plate_candidates(grey))


@pytest.mark.slow
def test_spanish_photos_top_five_recall() -> None:
    data_dir = next((d for d in REAL_DATA_DIRS if (d / "images").is_dir()), None)
    if data_dir is None:
        pytest.skip("test6Training photos are not available")
    found = total = 0
    for image_path in sorted((data_dir / "images").glob("*.jpg")):
        label_path = data_dir / "labels" / f"{image_path.stem}.txt"
        if not config.SPANISH_PLATE.match(image_path.stem) or not label_path.exists():
            continue
        image = cv2.imread(str(image_path))
        boxes = [c.box for c in find_plate_candidates(image)]
        for truth in read_plate_boxes(label_path, image.shape[1], image.shape[0]):
            total += 1
            found += any(iou(box, truth) >= 0.5 for box in boxes)
    assert total == 21
    assert found >= MIN_TOP5_SPANISH


def test_real_plates_turned_by_hand_are_found_whole(shared_data) -> None:
    """test6's Spanish photos turned by -18 degrees about the plate (their plates then lean 11-28
    degrees): the plate is the first candidate for 20 of the 21 (21 when this was written; 18 before
    rows broken at the digits/letters gap were joined along their slant)."""
    from bench.perturbed import spanish_photos, turned

    first = 0
    for _, photo, box in spanish_photos(shared_data):
        image, plate = turned(-18.0)(photo, box)
        candidates = find_plate_candidates(image, 5)
        first += bool(candidates) and iou(candidates[0].box, plate.as_tuple()) >= 0.5
    assert first >= 20


def test_plates_tilted_by_20_to_30_degrees_are_found() -> None:
    """The characters of a tilted plate climb or fall along the row and their boxes overlap; the
    localiser still chains them into a row, and proposes the plate turned with it (measured: 13 of
    these 16 clean scenes; 11 with the plates grown level around the rows alone, 2 before chaining)."""
    from plateocr.plategen import sample_scene

    found = 0
    for seed in range(16):
        scene = sample_scene(
            np.random.default_rng(300 + seed), kind="spanish", layout="es", family=("truetype", "stroke")[seed % 2],
            canvas=(416, 416), plate_width=180.0, tilt=(18.0, 28.0), effects={},
        )
        assert abs(scene.tilt) >= 18.0
        candidates = find_plate_candidates(scene.image, 5)
        found += any(iou(c.box, scene.plate_box) >= 0.5 for c in candidates)
    assert found >= 12


def test_a_slanting_row_is_proposed_as_a_plate_turned_with_it() -> None:
    """Seven character boxes climbing 20 degrees give the bounds of a plate that long, turned that much;
    a level row gives none (its plate is grown level by the other proposals)."""
    from plateocr.localize import MIN_ROW_TILT, _tilted_plate

    def row(angle: float) -> np.ndarray:
        t = np.deg2rad(angle)
        centres = [(100 + 34 * k * np.cos(t), 300 + 34 * k * np.sin(t)) for k in range(7)]
        # A 44 x 24 character turned by ``angle``: its box is taller and wider than the character.
        half_w, half_h = 12 * np.cos(t) + 22 * abs(np.sin(t)), 22 * np.cos(t) + 12 * abs(np.sin(t))
        return np.array([[x - half_w, y - half_h, x + half_w, y + half_h, 1] for x, y in centres], np.float32)

    assert _tilted_plate(row(0.0), 800, 600) is None
    assert _tilted_plate(row(MIN_ROW_TILT / 2), 800, 600) is None
    for angle in (-20.0, 20.0):
        blobs = row(angle)
        x0, y0, x1, y1 = _tilted_plate(blobs, 800, 600)
        assert x0 < blobs[:, 0].min() and x1 > blobs[:, 2].max() and y0 < blobs[:, 1].min() and y1 > blobs[:, 3].max()
        # The plate: about 7 * 34 * 1.2 = 286 px long and 1.44 * 44 = 63 px high, turned by 20 degrees.
        t = np.deg2rad(20.0)
        assert x1 - x0 == pytest.approx(286 * np.cos(t) + 63 * np.sin(t), rel=0.12)
        assert y1 - y0 == pytest.approx(286 * np.sin(t) + 63 * np.cos(t), rel=0.12)
    # Clipped to the image.
    assert _tilted_plate(row(20.0) + [0, 240, 0, 240, 0], 800, 600)[3] == 600


@pytest.mark.parametrize("angle", [-25.0, -15.0, 15.0, 25.0])
def test_a_turned_plate_is_the_first_candidate(rendered_plate, angle: float) -> None:
    plate, _ = rendered_plate("2745BCD")
    photo, box = turned_photo(plate, angle, (520, 640))
    candidates = find_plate_candidates(photo, 5)
    assert iou(candidates[0].box, box.as_tuple()) >= 0.6


def test_a_merged_blob_completes_a_row_of_whole_characters() -> None:
    """Three letters run together into one blob join the four digits before them, cut in three;
    merged blobs alone make no row (texture would), nor do they outnumber a row's whole characters."""
    from plateocr.localize import _text_rows

    digits = np.array([[100 + 24 * k, 50, 118 + 24 * k, 80, 1, 0] for k in range(4)], np.float32)
    letters = np.array([[210, 50, 264, 80, 1, 1]], np.float32)  # 54 x 30: three characters run together
    rows = _text_rows(np.concatenate([digits, letters]))
    assert len(rows) == 1 and len(rows[0]) == 7
    parts = rows[0][rows[0][:, 5] == 1]
    assert np.allclose(parts[:, 0], [210, 228, 246]) and np.allclose(parts[:, 2], [228, 246, 264])
    assert _text_rows(np.concatenate([letters, letters + [60, 0, 60, 0, 0, 0], letters + [120, 0, 120, 0, 0, 0]])) == []
    # Three whole characters cannot take six merged ones: the row stays as it was.
    wide = np.array([[210, 50, 318, 80, 1, 1]], np.float32)
    assert [len(row) for row in _text_rows(np.concatenate([digits[:3], wide - [24, 0, 24, 0, 0, 0]]))] == [3]
    # A merged blob of the other polarity is not the row's.
    assert [len(row) for row in _text_rows(np.concatenate([digits, letters - [0, 0, 0, 0, 1, 0]]))] == [4]


def test_a_turned_plates_digits_and_letters_join_along_their_slant() -> None:
    """Turned by 26 degrees, the wide gap between a plate's digits and letters breaks its row in two
    (neighbours' centres differ by more than ROW_CENTRE_OFFSET): rows on one line join again; rows on
    parallel lines (a two-row plate, lettering under a plate) or of the other polarity do not."""
    from plateocr.localize import _text_rows

    def chars(angle: float, start: int, count: int, offset: float = 0.0, polarity: int = 1) -> np.ndarray:
        t = np.deg2rad(angle)
        # Character pitch 24, with a gap of one more pitch between the digits (0-3) and the letters.
        along = [24 * k + (23 if k >= 4 else 0) for k in range(start, start + count)]
        centres = [(100 + a * np.cos(t) - offset * np.sin(t), 200 + a * np.sin(t) + offset * np.cos(t)) for a in along]
        half_w, half_h = 8 * np.cos(t) + 15 * np.sin(t), 15 * np.cos(t) + 8 * np.sin(t)
        return np.array([[x - half_w, y - half_h, x + half_w, y + half_h, polarity, 0] for x, y in centres], np.float32)

    digits, letters = chars(26.0, 0, 4), chars(26.0, 4, 3)
    rows = _text_rows(np.concatenate([digits, letters]))
    assert [len(r) for r in rows] == [7]
    assert np.allclose(np.sort(rows[0][:, 0]), np.sort(np.concatenate([digits, letters])[:, 0]))
    # Level, the row never broke (and is one row as before).
    assert [len(r) for r in _text_rows(np.concatenate([chars(0.0, 0, 4), chars(0.0, 4, 3)]))] == [7]
    # Letters a character height off the digits' line, or of the other polarity, stay a row of their own.
    assert sorted(len(r) for r in _text_rows(np.concatenate([digits, chars(26.0, 4, 3, offset=30.0)]))) == [3, 4]
    assert sorted(len(r) for r in _text_rows(np.concatenate([digits, chars(26.0, 4, 3, polarity=0)]))) == [3, 4]


def test_a_small_plate_whose_letters_run_together_is_found_whole(rendered_plate) -> None:
    """On a small plate the letters blur into one blob: the candidate still spans all seven characters."""
    plate, centres = rendered_plate("5701LNL")
    # Join the three letters at mid-height, as blur does on a plate 90 px wide.
    middle = plate.shape[0] // 2
    cv2.line(plate, (round(centres[4]), middle), (round(centres[6]), middle), (0, 0, 0), 14)
    small = cv2.resize(plate, (90, round(90 * plate.shape[0] / plate.shape[1])), interpolation=cv2.INTER_AREA)
    photo = np.full((416, 416, 3), (60, 140, 90), np.uint8)
    photo[200 : 200 + small.shape[0], 150:240] = small
    truth = (150, 200, 90, small.shape[0])
    best = find_plate_candidates(photo, 5)[0]
    assert iou(best.box, truth) >= 0.6
    assert best.box[0] + best.box[2] >= 150 + 90 * centres[6] / plate.shape[1]


def test_a_plate_row_broken_where_a_character_is_lost_is_bridged(rendered_plate) -> None:
    """A hard shadow edge (or dirt) through a character wipes it out of the thresholds, and the row
    breaks at a gap of about one and a half character heights: the localiser still proposes the whole
    plate first (before rows were bridged, its first box held the digits alone: IoU 0.42)."""
    plate, centres = rendered_plate("7945DDK")
    h = plate.shape[0]
    quarter = (centres[4] - centres[2]) / 4
    paper = np.median(plate[2:8, plate.shape[1] // 2 - 20 : plate.shape[1] // 2 + 20].reshape(-1, 3), axis=0)
    plate[round(0.1 * h) : round(0.9 * h), round(centres[3] - quarter) : round(centres[3] + quarter)] = paper
    photo, box = turned_photo(plate, 0.0, (420, 560), grey=150)
    assert iou(find_plate_candidates(photo, 5)[0].box, box.as_tuple()) >= 0.6


def test_rows_on_one_line_across_a_lost_character_are_bridged() -> None:
    """Two rows on one line, a lost character's gap apart, are also proposed as one row; rows further
    apart, off the line, of the other polarity or too many characters together are not."""
    from plateocr.localize import _bridged_rows, _text_rows

    def row(start: float, count: int, y: float = 50.0, polarity: int = 1) -> np.ndarray:
        return np.array([[start + 24 * k, y, start + 24 * k + 16, y + 30, polarity, 0] for k in range(count)], np.float32)

    digits = row(100, 4)  # ends at 188; a neighbour may start up to 1.1 heights (33 px) later
    lost = row(188 + 50, 3)  # one character (24 px) missing from the gap: 50 px = 1.7 heights
    assert sorted(len(r) for r in _text_rows(np.concatenate([digits, lost]))) == [3, 4]
    bridged = _bridged_rows(_text_rows(np.concatenate([digits, lost])))
    assert [len(r) for r in bridged] == [7]
    assert bridged[0][:, 0].min() == 100 and bridged[0][:, 2].max() == lost[:, 2].max()
    assert _bridged_rows([digits, row(188 + 80, 3)]) == []  # 2.7 heights: another text
    assert _bridged_rows([digits, row(238, 3, y=80)]) == []  # a character height lower
    assert _bridged_rows([digits, row(238, 3, polarity=0)]) == []
    assert _bridged_rows([row(100 - 24 * 3, 7), row(238, 3)]) == []  # ten characters: no plate
    # Two characters make no row of their own, but bridge onto one: the letters kept of three.
    pair = row(238, 2)
    assert _bridged_rows([digits], [pair])[0].shape == (6, 6)
    assert _bridged_rows([], [row(100, 2), pair]) == []  # two pairs: no row among them


def test_real_plates_under_a_hard_shadow_edge_are_found_whole(shared_data) -> None:
    """test6's Spanish photos darkened left of a vertical edge through the middle of the plate
    (``bench.perturbed.shadowed(0.5)``): a box of the whole plate (IoU >= 0.5) is among the top five for
    20 of the 21 (15 before rows broken at a lost character were bridged, 19 before a pair of characters
    could bridge onto a row)."""
    from bench.perturbed import shadowed, spanish_photos

    found = 0
    for _, photo, box in spanish_photos(shared_data):
        image, plate = shadowed(0.5)(photo, box)
        found += any(iou(c.box, plate.as_tuple()) >= 0.5 for c in find_plate_candidates(image, 5))
    assert found >= 19


def _plate_with_lettering_on_its_line(
    rendered_plate, glyph, lettering: str, angle: float
) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """A rendered plate with dark lettering on a white sticker just right of it, on its line (a dealer's
    name, a badge), both turned by ``angle`` onto a grey photo; and the bounds of the plate alone there."""
    from conftest import paint

    plate, centres = rendered_plate("2745BCD")
    h, w = plate.shape[:2]
    step = centres[1] - centres[0]
    composite = np.full((h, w + round(step * (len(lettering) + 0.6)), 3), 255, np.uint8)
    composite[:, :w] = plate
    char_h = round(0.62 * h)
    for k, char in enumerate(lettering):
        mask = glyph(char)
        width = min(round(0.8 * step), round(mask.shape[1] * char_h / mask.shape[0]))
        paint(composite, cv2.resize(mask, (width, char_h), interpolation=cv2.INTER_AREA),
              w + round((0.4 + k) * step), (h - char_h) // 2, (0, 0, 0))
    photo = np.full((600, 760, 3), 70, np.uint8)
    matrix = cv2.getRotationMatrix2D((composite.shape[1] / 2, h / 2), angle, 1.0)
    matrix[:, 2] += (380 - composite.shape[1] / 2, 300 - h / 2)
    cv2.warpAffine(composite, matrix, (760, 600), dst=photo, borderMode=cv2.BORDER_TRANSPARENT)
    corners = cv2.transform(np.float32([[[0, 0], [w, 0], [w, h], [0, h]]]), matrix)[0]
    (x0, y0), (x1, y1) = corners.min(axis=0), corners.max(axis=0)
    return photo, (round(x0), round(y0), round(x1 - x0), round(y1 - y0))


@pytest.mark.parametrize(("lettering", "angle"), [("K4L", 15.0), ("K4LM", 25.0), ("ABC4", -20.0)])
def test_a_turned_plate_whose_row_runs_on_into_lettering_is_found_whole(
    rendered_plate, glyph, lettering: str, angle: float
) -> None:
    """Turned, a plate's row chains on along its line into the lettering beside it (10 or 11 blobs, too
    many for a plate) and the box grown around both was the first candidate (IoU 0.36-0.48 with the
    plate). The run of seven spaced as a plate's row is proposed too, and comes first."""
    photo, box = _plate_with_lettering_on_its_line(rendered_plate, glyph, lettering, angle)
    assert iou(find_plate_candidates(photo, 5)[0].box, box) >= 0.7
    # Level, the row stops at the plate's edge already.
    photo, box = _plate_with_lettering_on_its_line(rendered_plate, glyph, lettering, 0.0)
    assert iou(find_plate_candidates(photo, 5)[0].box, box) >= 0.6


def test_only_runs_spaced_as_a_plate_are_cut_from_a_long_row() -> None:
    """A row of 8-14 blobs yields its runs of seven whose widest step between centres comes after the
    fourth character; evenly spaced text, a gap elsewhere, a row of a plate's length or of texture yield none."""
    from plateocr.localize import _row_windows

    def row(count: int, gap_after: int | None = 3, start: int = 0) -> np.ndarray:
        lefts = [100 + 24 * k + (12 if gap_after is not None and k > gap_after + start else 0) for k in range(count)]
        return np.array([[x, 50, x + 16, 80, 1, 0] for x in lefts], np.float32)

    # A band blob, the plate's 4 + 3 characters (an extra 12 px after the fourth) and 3 letters beyond.
    long_row = row(11, start=1)
    windows = _row_windows([long_row])
    assert [w[:, 0].tolist() for w in windows] == [long_row[1:8, 0].tolist()]
    assert _row_windows([row(11, gap_after=None)]) == []  # evenly spaced: text, not a plate
    assert _row_windows([row(11, gap_after=1, start=0)]) == []  # the gap after the second character
    # A band and the plate: the plate's seven without the band; the plate alone is one row already.
    band_and_plate = row(8, start=1)
    assert [w[:, 0].tolist() for w in _row_windows([band_and_plate])] == [band_and_plate[1:, 0].tolist()]
    assert _row_windows([row(7)]) == []
    assert _row_windows([row(15, start=1)]) == []  # texture


def test_real_plates_turned_or_in_perspective_rank_first(shared_data) -> None:
    """test6's Spanish photos turned by +25 degrees or in perspective (0.3): the plate is the first
    candidate for 38 of the 42 (32 before runs spaced as a plate were cut from rows longer than one)."""
    from bench.perturbed import in_perspective, spanish_photos, turned

    first = 0
    for _, photo, box in spanish_photos(shared_data):
        for perturb in (turned(25.0), in_perspective(0.3)):
            image, plate = perturb(photo, box)
            candidates = find_plate_candidates(image, 5)
            first += bool(candidates) and iou(candidates[0].box, plate.as_tuple()) >= 0.5
    assert first >= 36


# The box of ``_row_in_a_box``'s light background, and a photo with no blue band.
ROW_BOX = np.array([40, 60, 360, 130], np.float32)
NO_BLUE = np.zeros((200, 400), np.uint8)


def _row_in_a_box(gap: int, widths: tuple[int, ...] = (20,) * 7) -> tuple[np.ndarray, np.ndarray]:
    """A grey photo holding ``ROW_BOX``'s light background with a row of dark blobs 40 px tall and ``widths``
    wide, 34 px apart and ``gap`` px more after the fourth; and those blobs as ``_char_boxes`` rows."""
    gray = np.full((200, 400), 90, np.uint8)
    gray[60:130, 40:360] = 235  # the plate's (or the sign's) light background
    lefts = [70 + 34 * k + (gap if k >= 4 else 0) for k in range(len(widths))]
    chars = np.array([[x, 75, x + width, 115, 1, 0] for x, width in zip(lefts, widths)], np.float32)
    for x0, y0, x1, y1, _, _ in chars.astype(int):
        gray[y0:y1, x0:x1] = 30
    return gray, chars


def test_a_box_whose_row_is_spaced_as_a_plate_scores_higher() -> None:
    """Two boxes alike in all but their row's spacing: seven dark characters with the plate's wider gap after
    the fourth, and seven evenly spaced (a sign, a dealer's name). The plate's scores higher, by the weight of
    the "spaced" feature; a row of six carries no such evidence."""
    from plateocr.localize import FEATURE_NAMES, SCORE_WEIGHTS, WEIGHT_VECTOR, _features

    spaced = FEATURE_NAMES.index("spaced")
    plate_gray, plate_chars = _row_in_a_box(gap=16)
    sign_gray, sign_chars = _row_in_a_box(gap=0)
    plate = _features(ROW_BOX, plate_gray, NO_BLUE, plate_chars)
    sign = _features(ROW_BOX, sign_gray, NO_BLUE, sign_chars)
    assert plate[spaced] == 1.0 and sign[spaced] == 0.0
    assert float(plate @ WEIGHT_VECTOR - sign @ WEIGHT_VECTOR) == pytest.approx(SCORE_WEIGHTS["spaced"], abs=0.05)
    assert _features(ROW_BOX, plate_gray, NO_BLUE, plate_chars[1:])[spaced] == 0.0  # six characters


def test_a_row_of_bars_scores_below_a_row_of_characters() -> None:
    """Two boxes alike in all but the shape of their row's blobs: seven characters (one of them a narrow
    "1") and seven thin bars (a grille's slats, a fence, a barcode). The bars score lower by the weight
    of the "bars" feature; the plate's one narrow character costs it a seventh of that."""
    from plateocr.localize import FEATURE_NAMES, SCORE_WEIGHTS, WEIGHT_VECTOR, _features

    bars = FEATURE_NAMES.index("bars")
    plate_gray, plate_chars = _row_in_a_box(16, (20, 8, 20, 20, 20, 20, 20))  # "1" is 8 px wide, 40 px tall
    grille_gray, grille_chars = _row_in_a_box(16, (8,) * 7)
    plate = _features(ROW_BOX, plate_gray, NO_BLUE, plate_chars)
    grille = _features(ROW_BOX, grille_gray, NO_BLUE, grille_chars)
    assert plate[bars] == pytest.approx(1 / 7) and grille[bars] == 1.0
    difference = float(plate @ WEIGHT_VECTOR - grille @ WEIGHT_VECTOR)
    assert difference == pytest.approx(-SCORE_WEIGHTS["bars"] * 6 / 7, abs=0.05)
    assert difference > 0


def test_generated_tilted_plates_rank_first_over_grilles_and_text() -> None:
    """Generated photos of Spanish plates turned by 15-30 degrees among the generator's clutter (grilles,
    signs, text): a plate box is the first candidate for 16 of these 60 (13 before rows of bars were
    marked down; a plate box among the five: 31 either way)."""
    from plateocr.plategen import sample_scene

    first = 0
    for seed in range(60):
        scene = sample_scene(
            np.random.default_rng(500 + seed), kind="spanish", layout="es", family=("truetype", "stroke")[seed % 2],
            canvas=(416, 416), tilt=(15.0, 30.0),
        )
        candidates = find_plate_candidates(scene.image, 5)
        first += bool(candidates) and iou(candidates[0].box, scene.plate_box) >= 0.5
    assert first >= 15


def test_characters_that_run_into_the_plate_frame_are_parted_from_it(rendered_plate) -> None:
    """A frame drawn over the characters' tops and feet makes each of them one blob with it. Levelled and
    with the frame's long lines cut away, the box's dark threshold gives one blob per character again,
    each centred on its character in the photo (mapped back through the turn)."""
    from conftest import CHAR_HEIGHT, PLATE_HEIGHT

    from plateocr.localize import _framed_blobs, _working_copy

    plate, centres = rendered_plate("2537BJD")
    y0 = (PLATE_HEIGHT - CHAR_HEIGHT) // 2
    cv2.rectangle(plate, (round(centres[0]) - 40, y0 - 3), (round(centres[6]) + 40, y0 + CHAR_HEIGHT + 2), (0, 0, 0), 4)
    h, w = plate.shape[:2]
    for angle in (6.0, -8.0):
        photo, box = turned_photo(plate, angle)
        work, scale = _working_copy(cv2.GaussianBlur(photo, (0, 0), 1.5))
        gray = cv2.cvtColor(work, cv2.COLOR_BGR2GRAY)
        blobs = _framed_blobs(gray, np.array([box.x, box.y, box.x + box.w, box.y + box.h], np.float32) * scale)
        assert blobs is not None and len(blobs) >= 7
        matrix = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
        matrix[:, 2] += (photo.shape[1] / 2 - w / 2, photo.shape[0] / 2 - h / 2)
        truth = cv2.transform(np.float32([[[x, PLATE_HEIGHT / 2] for x in centres]]), matrix)[0] * scale
        found = np.stack([(blobs[:, 0] + blobs[:, 2]) / 2, (blobs[:, 1] + blobs[:, 3]) / 2], axis=1)
        nearest = np.linalg.norm(truth[:, None] - found[None], axis=2).min(axis=1)
        assert (nearest <= 0.2 * CHAR_HEIGHT * scale).all(), nearest


def test_real_plates_whose_characters_blur_into_their_frame_are_found(shared_data) -> None:
    """test6's Spanish photos blurred (sigma 1 px), compressed (JPEG 20), in perspective (one side at half
    height) and scaled to 0.45: their small plates' characters run into the frame, and the plate box is in
    the top five for 80 of these 84 (76 before ``_framed_text``)."""
    from bench.perturbed import KINDS, spanish_photos

    found = 0
    for kind in ("blur1.0", "jpeg20", "persp0.5", "small0.45"):
        for _, photo, box in spanish_photos(shared_data):
            image, plate = KINDS[kind](photo, box)
            found += any(iou(c.box, plate.as_tuple()) >= 0.5 for c in find_plate_candidates(image, 5))
    assert found >= 79


def test_a_light_turned_rectangle_holding_characters_is_proposed(rendered_plate) -> None:
    """A light plate turned by 25 or -18 degrees on a darker photo is a turned rectangle of a plate's shape: the
    ``quad`` cue gives its bounds and, found with it turned level, one blob on each character's centre (mapped back
    through the turn). The same rectangle blank, or cut square, is not proposed."""
    from conftest import CHAR_HEIGHT, PLATE_HEIGHT

    from plateocr.localize import _quad_candidates, _working_copy

    def quads(photo: np.ndarray) -> tuple[list[tuple[np.ndarray, np.ndarray]], float]:
        work, scale = _working_copy(photo)
        return _quad_candidates(cv2.cvtColor(work, cv2.COLOR_BGR2GRAY)), scale

    plate, centres = rendered_plate("4065TCW")
    h, w = plate.shape[:2]
    size = (840, 1120)  # the plate a plate's share of a photo (6 %)
    for angle in (25.0, -18.0):
        photo, box = turned_photo(plate, angle, size)
        found, scale = quads(photo)
        assert len(found) == 1
        bounds, blobs = found[0]
        x0, y0, x1, y1 = bounds / scale
        assert iou((x0, y0, x1 - x0, y1 - y0), box.as_tuple()) >= 0.85
        matrix = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
        matrix[:, 2] += (photo.shape[1] / 2 - w / 2, photo.shape[0] / 2 - h / 2)
        truth = cv2.transform(np.float32([[[x, PLATE_HEIGHT / 2] for x in centres]]), matrix)[0] * scale
        centre = np.stack([(blobs[:, 0] + blobs[:, 2]) / 2, (blobs[:, 1] + blobs[:, 3]) / 2], axis=1)
        assert len(blobs) == 7
        assert (np.linalg.norm(truth[:, None] - centre[None], axis=2).min(axis=1) <= 0.2 * CHAR_HEIGHT * scale).all()
    blank = np.full_like(plate, 255)
    assert quads(turned_photo(blank, 25.0, size)[0])[0] == []
    square = plate[:, : round(centres[3] + 0.5 * (centres[4] - centres[3]))]
    square = cv2.resize(square, (PLATE_HEIGHT + 20, PLATE_HEIGHT))
    assert quads(turned_photo(square, 25.0, size)[0])[0] == []


def test_nested_blobs_are_found_chunk_by_chunk_not_in_one_matrix(monkeypatch) -> None:
    """A photo of texture gives tens of thousands of blobs; comparing them all at once took 6 GB. The pairs
    of nested boxes are found a chunk at a time, each against the boxes near it only, and they are exactly
    the pairs the whole matrix gives; the duplicates removed are the ones the greedy rule names."""
    from plateocr import localize

    rng = np.random.default_rng(7)
    n = 5 * localize.PAIR_CHUNK
    corners = rng.uniform(0, 3000, (n, 2)).round()
    sizes = rng.integers(0, 40, (n, 2))
    boxes = np.hstack([corners, corners + sizes]).astype(np.float32)
    dense = localize._containment(boxes, boxes) >= 0.7

    largest = []
    containment = localize._containment
    monkeypatch.setattr(
        localize, "_containment", lambda a, b: largest.append(len(a) * len(b)) or containment(a, b)
    )
    inner, outer = localize._nested_pairs(boxes, boxes, 0.7)
    assert sorted(zip(inner.tolist(), outer.tolist())) == sorted(zip(*np.nonzero(dense)))
    assert len(largest) >= 5 and max(largest) < n * n / 10

    stats = np.hstack([corners, sizes, rng.integers(0, 500, (n, 1)), rng.integers(0, 2, (n, 1))]).astype(np.float32)
    for merged in (0, 1):
        got = localize._unique_blobs(stats, merged)
        # The rule, with the whole matrix: largest first, a blob is dropped when a kept larger one holds
        # 70 % of it and is at most twice its height (and, for merged blobs, of its polarity).
        rows = np.stack([stats[:, 0], stats[:, 1], stats[:, 0] + stats[:, 2], stats[:, 1] + stats[:, 3], stats[:, 5]], 1)
        rows = rows[np.argsort(-stats[:, 2] * stats[:, 3], kind="stable")]
        inside = containment(rows[:, :4], rows[:, :4]) >= 0.7
        heights = rows[:, 3] - rows[:, 1]
        kept: list[int] = []
        for i in range(n):
            if not any(
                inside[i, j] and heights[j] <= 2 * heights[i] and (not merged or rows[i, 4] == rows[j, 4]) for j in kept
            ):
                kept.append(i)
        assert np.array_equal(got[:, :5], rows[kept]) and (got[:, 5] == merged).all()
        assert 0 < len(kept) < n


def test_a_strip_far_wider_than_tall_is_looked_at_without_error() -> None:
    """Scaled to the working size, a 10 x 5000 strip is under a pixel high: it is kept one pixel high."""
    from plateocr.imageio import resize_by

    strip = np.full((10, 5000, 3), 200, np.uint8)
    assert resize_by(strip, 96 / 5000, cv2.INTER_AREA).shape == (1, 96, 3)
    assert resize_by(strip, 0.5, cv2.INTER_AREA).shape == cv2.resize(strip, None, fx=0.5, fy=0.5).shape
    assert find_plate_candidates(np.full((8, 60000, 3), 200, np.uint8)) == []


def test_neighbouring_blobs_are_linked_chunk_by_chunk_as_the_whole_matrix_links_them(monkeypatch) -> None:
    from plateocr import localize

    rng = np.random.default_rng(11)
    n = 4 * localize.PAIR_CHUNK
    corners = rng.uniform(0, 2000, (n, 2)).round()
    blobs = np.hstack(
        [corners, corners + rng.integers(4, 30, (n, 2)), rng.integers(0, 2, (n, 1)), np.zeros((n, 1))]
    ).astype(np.float32)
    dense = np.nonzero(localize._links(blobs, blobs))
    largest = []
    links = localize._links
    monkeypatch.setattr(localize, "_links", lambda a, b: largest.append(len(a) * len(b)) or links(a, b))
    i, j = localize._link_pairs(blobs)
    assert len(i) > 100 and np.array_equal(i, dense[0]) and np.array_equal(j, dense[1])
    assert max(largest) < n * n / 10
