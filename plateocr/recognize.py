"""One image -> one plate reading: candidate boxes, the readers (each one batched model call), arbitration."""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from config import SPANISH_PLATE, RecognizeConfig
from plateocr.arbitrate import Verdict, arbitrate, text_format
from plateocr.calibrate import Platt
from plateocr.charreader import CharsReader
from plateocr.corners import CornerFinder
from plateocr.decode import Reading, confirmed_crops
from plateocr.errors import InputError, PlateOCRError, SetupError
from plateocr.imageio import read_image
from plateocr.level import CHARS_MIN_TILT, level_plate, levelled_views, plate_tilt
from plateocr.platemodel import SlotReading
from plateocr.platereader import WholePlateReader, load_calibration
from plateocr.plates import Box, crop, expand_box, plate_boxes_from_labels
from plateocr.record import ImageResult
from plateocr.views import fuse_slots, one_row_view, plate_views, square_on_view

log = logging.getLogger(__name__)

# The scale over which a lower localiser score discounts a candidate's reading: exp(-difference / scale).
# Measured on the generated set: 1 to 4 all give the same readings; no discount loses 2 of 200.
LOCALISER_TEMPERATURE = 2.0
# A localiser box narrower than this many of its heights (a square two-row plate, or a plate turned inside
# its box) falls inside the plate's own bounds, where a label's box reaches past them, and the readers and
# their calibration know label boxes: such a box is read grown by the labels' margin (docs/trust_log.md: measured).
SQUARE_BOX_ASPECT = 2.5
# Sources of boxes that hold the plate's surroundings as well: always read tight too (``with_tight_crops``).
LOOSE_SOURCES = ("localiser", "image")


@dataclass(frozen=True)
class PlateCandidate:
    """A box to read, where it came from ("label", "given", "image" or the localiser's cue) and how plate-like it looked.

    ``prior`` (in (0, 1]) multiplies the reading's score when candidates compete, so that
    plate-like text elsewhere in the photo does not win over the box that looks like a plate.
    ``tightens``: the index of the candidate whose box this one is a tighter crop of (-1: none); its
    answer stands only where it is that candidate's answer too. ``tilt``: the plate's turn in the box
    (``level.plate_tilt``) where it was already found, so that levelling does not search it again.
    """

    box: Box
    source: str
    prior: float = 1.0
    tightens: int = -1
    tilt: float | None = None


class PlateReader:
    """The readers ``cfg.reader`` selects, loaded (Chars74K model, whole-plate model), ready to read plates."""

    def __init__(self, model_path: Path, cfg: RecognizeConfig | None = None, threads: int | None = None) -> None:
        self.cfg = cfg or RecognizeConfig()
        self.cfg.validate()
        self.model_path = Path(model_path)
        self.chars: CharsReader | None = None
        if self.cfg.reader in ("chars", "both"):
            self.chars = CharsReader(self.model_path, self.cfg, threads)
        self.whole_plate: WholePlateReader | None = None
        if self.cfg.reader in ("plate", "both"):
            self.whole_plate = WholePlateReader(self.cfg.plate_model, threads)
        self.corners: CornerFinder | None = None
        if self.whole_plate is not None and self.cfg.corner_model is not None:
            try:
                self.corners = CornerFinder(self.cfg.corner_model, threads)
            except SetupError as exc:
                log.warning("%s; plates are read without their square-on view", exc)
        self.calibration = load_calibration(self.cfg.plate_model, self.cfg.reader)

    def read_candidates(self, image: np.ndarray, candidates: list[PlateCandidate]) -> tuple[Verdict, int]:
        """Read every candidate box with the selected readers; return the best answer and its box's index.

        Each reader makes one model call for all the boxes of the image. A box whose answer is
        a Spanish plate beats any that is not; among those the most confident (times the box's
        prior) wins. With no Spanish answer, the box the whole-plate reader read most surely is
        kept, so that a foreign plate is reported with what it says (index -1: nothing seen).
        """
        chars, plates = self.evidence(image, candidates, every_box=self.cfg.reader != "both")
        return decide(
            chars, plates, [c.prior for c in candidates], self.cfg.reader, self.calibration,
            [c.tightens for c in candidates],
        )

    def evidence(
        self, image: np.ndarray, candidates: list[PlateCandidate], every_box: bool = True
    ) -> tuple[list[tuple[Reading | None, float]], list[SlotReading | None]]:
        """What each selected reader saw in each box: Chars74K votes with their plate scores, whole-plate readings.

        Where a box's plate is tilted by more than ``level.CHARS_MIN_TILT``, the Chars74K reader reads it
        levelled (the first of the levelled views): its contour segmentation needs upright characters.
        ``every_box`` False, with both readers: the Chars74K reader reads only the boxes whose whole-plate
        reading is a Spanish plate, the only ones where ``arbitrate`` weighs its evidence (``both`` mode's
        answers are the same; the other boxes get ``(None, 0.0)``). Benchmarks that decide every mode on
        one read keep every box.
        """
        boxes = [c.box for c in candidates]
        # The Chars74K reader alone reads only the first levelled view: the others need not be cut.
        margins = self.cfg.level_margins if self.whole_plate is not None else self.cfg.level_margins[:1]
        levelled = [level_plate(image, c.box, margins, c.tilt) for c in candidates]
        plates: list[SlotReading | None] = [None] * len(candidates)
        if self.whole_plate is not None:
            plates = list(self.read_views(image, boxes, [lv.views for lv in levelled]))
        chars: list[tuple[Reading | None, float]] = [(None, 0.0)] * len(candidates)
        if self.chars is not None:
            wanted = [
                i for i, plate in enumerate(plates)
                if every_box or plate is None or text_format(plate.text) == "spanish"
            ]
            crops = [
                levelled[i].views[0] if levelled[i].views and abs(levelled[i].angle) >= CHARS_MIN_TILT
                else crop(image, boxes[i])
                for i in wanted
            ]
            for i, reading in zip(wanted, self.chars.read(crops) if crops else []):
                chars[i] = reading
        return chars, plates

    def read_views(
        self, image: np.ndarray, boxes: list[Box], levelled: list[list[np.ndarray]] | None = None
    ) -> list[SlotReading]:
        """The whole-plate reader's reading of each box, fused over its views (``plateocr.views``), where
        the plate is tilted its levelled views (``plateocr.level``; found here unless given), and its
        square-on view from the corner finder's corners (``square_on_views``), the groups weighing alike;
        where that view is a two-row square's, fused again with its reading as one row (``one_row_view``).

        Every view of every box goes through the model in one call.
        """
        assert self.whole_plate is not None
        height = self.whole_plate.cfg.height * 2 if self.cfg.rectify else 0
        if levelled is None:
            levelled = [levelled_views(image, box, self.cfg.level_margins) for box in boxes]
        square_on = self.square_on_views(image, boxes)
        groups = [
            (plate_views(image, box, self.cfg.view_margins, height), lv, so)
            for box, lv, so in zip(boxes, levelled, square_on)
        ]
        one_row = [one_row_view(so[0]) if so else None for so in square_on]
        readings = iter(self.whole_plate.read(
            [v for group in groups for views in group for v in views] + [v for v in one_row if v is not None]
        ))
        fused = []
        for group in groups:
            parts = [fuse_slots([next(readings) for _ in views], self.whole_plate.cfg) for views in group if views]
            fused.append(fuse_slots(parts, self.whole_plate.cfg))
        # A two-row square read as one row weighs as much as all of its other views together (as one more
        # group: fewer of the generated two-row plates read; chosen when surer than them: more misread),
        # unless it reads nothing there: then the plate was not two rows, or its rows were not cut apart.
        for i, view in enumerate(one_row):
            if view is not None:
                reading = next(readings)
                if reading.text:
                    fused[i] = fuse_slots([fused[i], reading], self.whole_plate.cfg)
        return fused

    def square_on_views(self, image: np.ndarray, boxes: list[Box]) -> list[list[np.ndarray]]:
        """Each box's plate warped square-on from the corners the corner finder finds in its crop (one model
        call for every box; none for a box whose corners make no plausible plate, or without a finder)."""
        if self.corners is None or self.whole_plate is None or not boxes:
            return [[] for _ in boxes]
        found = self.corners.corners([crop(image, box) for box in boxes])
        height = self.whole_plate.cfg.height * 2
        views = [square_on_view(image, box, corners, height) for box, corners in zip(boxes, found)]
        return [[v] if v is not None else [] for v in views]

    def read_image(
        self, path: Path, labels: Path | None, image: np.ndarray | None = None, box: Box | None = None
    ) -> ImageResult:
        """Read one image file; problems become the result's ``error``, never an exception.

        ``image``: the photo already decoded (8-bit BGR; ``path`` then only names it), as a
        service or a video frame has it. ``box``: the plate's box in pixels, read as a label's.
        """
        started = time.perf_counter()
        result = ImageResult(name=Path(path).stem, path=Path(path))
        try:
            image = read_image(path) if image is None else image
            candidates = self.candidates(image, path, labels) if box is None else self.given_box(image, box)
            if not candidates:
                raise InputError(f"{path}: no plate box found")
            reading, index = self.read_candidates(image, candidates)
            boxes = [c for c in candidates if c.tightens < 0]
            if index < 0 and len(boxes) == 1 and boxes[0].source in ("label", "given", "image"):
                index = 0  # a label's, the caller's or the whole image's box was read, even when nothing was seen in it
            if index >= 0:
                result.box, result.source = candidates[index].box, candidates[index].source
            result.text, result.confidence, result.char_probs = reading.text, reading.confidence, reading.char_probs
            result.raw_text, result.format = reading.raw_text, reading.format
            result.withhold_below(self.cfg.min_confidence)
        except InputError as exc:
            result.error = str(exc)
        result.seconds = time.perf_counter() - started
        return result

    def candidates(self, image: np.ndarray, path: Path, labels: Path | None) -> list[PlateCandidate]:
        """Plate boxes from the image's YOLO label file (with the configured margin), else the localiser's.

        The localiser takes over when no label folder is given, the image has no label
        file, or its label file holds no usable plate box; an image that is a plate already cut
        out (``whole_image``) is read whole too. The first box is also read tight (``with_tight_crops``).
        """
        h, w = image.shape[:2]
        if labels is not None:
            label_file = Path(labels) / f"{Path(path).stem}.txt"
            boxes: list[Box] = []
            if label_file.is_file():
                try:
                    boxes = plate_boxes_from_labels(label_file, w, h)
                    if not boxes:
                        log.warning("%s: no usable plate box; finding the plate without it", label_file)
                except InputError as exc:
                    log.warning("%s; finding the plate without it", exc)
            elif label_file.exists():
                log.warning("%s: not a file; finding the plate without it", label_file)
            else:
                log.debug("%s: no label file; finding the plate without it", label_file)
            if boxes:
                return self.with_tight_crops(
                    image, [PlateCandidate(expand_box(b, self.cfg.plate_margin, w, h), "label") for b in boxes]
                )
        first, last = self.whole_image(image)
        return self.with_tight_crops(image, first + self.localise(image) + last)

    def whole_image(self, image: np.ndarray) -> tuple[list[PlateCandidate], list[PlateCandidate]]:
        """The whole image as a box (``source`` "image") where it may be a plate already cut out: as the
        first box where it surely is one (every image with ``cfg.crops``; one at least ``cfg.crop_aspect``
        times as wide as it is tall), as the last where it is merely small (at most ``cfg.crop_size`` px
        long: a square two-row crop, or a photo too small to hold a readable plate but its own).

        The localiser looks for a plate in its surroundings, and in a crop that a plate fills it finds
        at best a part of it (the band of characters, a row); the readers read such a crop as a label's box.
        Returns the candidates to put before the localiser's and after them.
        """
        h, w = image.shape[:2]
        if w < 8 or h < 4:
            return [], []
        whole = [PlateCandidate(Box(0, 0, w, h), "image")]
        if self.cfg.crops or (self.cfg.crop_aspect > 0 and w >= self.cfg.crop_aspect * h):
            return whole, []
        return [], whole if max(w, h) <= self.cfg.crop_size else []

    def given_box(self, image: np.ndarray, box: Box) -> list[PlateCandidate]:
        """A box given with the image (``source`` "given"), grown by the labels' margin, and its tight crop."""
        h, w = image.shape[:2]
        return self.with_tight_crops(image, [PlateCandidate(expand_box(box, self.cfg.plate_margin, w, h), "given")])

    def localise(self, image: np.ndarray) -> list[PlateCandidate]:
        """The localiser's top candidates (verified later by reading them all)."""
        from plateocr.localize import find_plate_candidates

        found = [c for c in find_plate_candidates(image, self.cfg.max_candidates) if c.box[2] >= 8 and c.box[3] >= 4]
        if not found:
            return []
        top = max(c.score for c in found)
        h, w = image.shape[:2]
        return [
            PlateCandidate(
                reading_box(Box(*c.box), self.cfg.plate_margin, w, h),
                f"localiser:{c.source}",
                math.exp((c.score - top) / LOCALISER_TEMPERATURE),
            )
            for c in found
        ]

    def with_tight_crops(self, image: np.ndarray, candidates: list[PlateCandidate]) -> list[PlateCandidate]:
        """``candidates``, then the first ``cfg.tight_candidates`` of them again shrunk to each of
        ``cfg.tight_shares`` about their centre (``tightens``: the index of the box each is cut from).

        A label's (or given) box is cut only where its plate is turned by ``cfg.tight_min_tilt`` or more
        (``level.plate_tilt``, kept on the box for its levelling): a level plate fills its label's box.
        The localiser's boxes and a whole image (``whole_image``) are always cut: they hold surroundings.
        Each crop is a box of its own: one equal to its box, or to another crop of it (a small box
        shrunk to the 8 x 4 px floor), is not read again, since crops confirm each other.
        """
        first = candidates[: self.cfg.tight_candidates]
        first = [c if c.source.startswith(LOOSE_SOURCES) else replace(c, tilt=plate_tilt(crop(image, c.box))) for c in first]
        seen = {(i, c.box) for i, c in enumerate(first)}
        tight = []
        for share in self.cfg.tight_shares:
            for i, c in enumerate(first):
                box = shrunk_box(c.box, share)
                if (c.tilt is None or abs(c.tilt) >= self.cfg.tight_min_tilt) and (i, box) not in seen:
                    seen.add((i, box))
                    tight.append(replace(c, box=box, source=f"{c.source}:tight", tightens=i, tilt=None))
        return first + candidates[len(first) :] + tight


def shrunk_box(box: Box, share: float) -> Box:
    """``box`` shrunk about its centre to ``share`` of its width and height (at least 8 x 4 px)."""
    w, h = max(8, round(share * box.w)), max(4, round(share * box.h))
    return Box(box.x + (box.w - w) // 2, box.y + (box.h - h) // 2, min(w, box.w), min(h, box.h))


def reading_box(box: Box, margin: float, image_width: int, image_height: int) -> Box:
    """A localiser's box as the readers read it: grown by ``margin`` when it is square (``SQUARE_BOX_ASPECT``)."""
    return expand_box(box, margin, image_width, image_height) if box.w < SQUARE_BOX_ASPECT * box.h else box


def decide(
    chars: list[tuple[Reading | None, float]],
    plates: list[SlotReading | None],
    priors: list[float],
    reader: str,
    calibration: Platt,
    tightens: list[int] | None = None,
) -> tuple[Verdict, int]:
    """One image's answer from what the readers saw in each box, as reader mode ``reader`` arbitrates it.

    The evidence may hold more readers than ``reader`` uses (benchmarks compare the modes on one read).
    ``tightens[i]`` >= 0: box ``i`` is a tighter crop of that box, and answers only what that box, or
    another crop of it, answers (``decode.confirmed_crops``: reading one plate several times must not
    give a wrong answer several chances).
    """
    use_chars, use_plate = reader in ("chars", "both"), reader in ("plate", "both")
    plates = [p if use_plate else None for p in plates]
    verdicts = []
    for (reading, score), plate in zip(chars, plates):
        verdict = arbitrate(reading if use_chars else None, plate, score)
        verdicts.append(replace(verdict, confidence=calibration(verdict.confidence)) if verdict.text else verdict)
    confirmed = confirmed_crops([v.text for v in verdicts], tightens)
    verdicts = [v if ok or not v.text else Verdict.nothing() for v, ok in zip(verdicts, confirmed)]
    return best_verdict(verdicts, plates, priors)


def best_verdict(
    verdicts: list[Verdict], plates: list[SlotReading | None], priors: list[float]
) -> tuple[Verdict, int]:
    """The answered box with the highest score times prior; else the surest other reading; and its index."""
    answered = [i for i, v in enumerate(verdicts) if v.text]
    if answered:
        best = max(answered, key=lambda i: verdicts[i].score * priors[i])
        return verdicts[best], best
    seen = [i for i, p in enumerate(plates) if p is not None and p.text]
    if seen:
        best = max(seen, key=lambda i: plates[i].confidence * priors[i])  # type: ignore[union-attr]
        return verdicts[best], best
    return Verdict.nothing(), -1


def list_images(folder: Path, include_all: bool, recursive: bool = False) -> list[Path]:
    """Images in ``folder`` sorted by name; only Spanish-plate names unless ``include_all``.

    Raises:
        SetupError: ``folder`` is not a folder.
    """
    from plateocr.inputs import folder_images

    files = folder_images(folder, recursive)
    return files if include_all else [p for p in files if SPANISH_PLATE.match(p.stem)]


def count_hits(results: list[ImageResult]) -> int:
    """Images whose reading equals their file name (the test folder's ground truth)."""
    return sum(1 for r in results if r.text and r.text == r.name)


__all__ = [
    "ImageResult",
    "PlateCandidate",
    "PlateReader",
    "PlateOCRError",
    "count_hits",
    "list_images",
]
