"""One image -> one plate reading: crop, filter bank, segmentation, one batched model call, vote."""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from config import CLASSES, PLATE_LENGTH, SPANISH_PLATE, PreprocessConfig, RecognizeConfig
from plateocr.decode import Decoded, Reading, box_prior, decode_plate, variant_weight, vote
from plateocr.errors import InputError, PlateOCRError, SetupError
from plateocr.filters import filter_bank
from plateocr.imageio import read_image
from plateocr.plates import Box, crop, expand_box, plate_boxes_from_labels
from plateocr.preprocess import preprocess_batch
from plateocr.rectify import blue_mask, rectify_plate
from plateocr.segment import deskew, segment_plate
from plateocr.tfimport import import_tensorflow_quietly
from plateocr.train import sidecar_path

if TYPE_CHECKING:
    from collections.abc import Callable

    from plateocr.batch import ImageOutputs, ReaderSpec

log = logging.getLogger(__name__)

# Each character crop keeps this much of its height as background around it.
CHAR_MARGIN = 0.12
# The scale over which a lower localiser score discounts a candidate's reading: exp(-difference / scale).
# Measured on the generated set: 1 to 4 all give the same readings; no discount loses 2 of 200.
LOCALISER_TEMPERATURE = 2.0


@dataclass(frozen=True)
class PlateCandidate:
    """A box to read, where it came from ("label" or the localiser's cue) and how plate-like it looked.

    ``prior`` (in (0, 1]) multiplies the reading's score when candidates compete, so that
    plate-like text elsewhere in the photo does not win over the box that looks like a plate.
    """

    box: Box
    source: str
    prior: float = 1.0


@dataclass
class ImageResult:
    """Everything known about one image's reading."""

    name: str
    path: Path
    text: str = ""
    confidence: float = 0.0
    char_probs: tuple[float, ...] = ()
    box: Box | None = None
    source: str = ""
    seconds: float = 0.0
    error: str = ""
    votes: int = 0
    extra: dict[str, object] = field(default_factory=dict)
    # The image's name in the outputs: ``name``, or a relative path when two images share a stem.
    output_name: str = ""


def suppress_blue(plate_bgr: np.ndarray) -> np.ndarray:
    """Grey plate with the blue EU band (and what is printed on it) turned to plate white.

    Only tall, narrow blue regions in the left or right fifth count as the band,
    so a bluish colour cast over the whole crop changes nothing.
    """
    gray = cv2.cvtColor(plate_bgr, cv2.COLOR_BGR2GRAY)
    blue = blue_mask(plate_bgr)
    # Close over the white E and yellow stars printed on the band.
    blue = cv2.morphologyEx(blue, cv2.MORPH_CLOSE, np.ones((7, 7), np.uint8))
    h, w = gray.shape
    count, labels, stats, _ = cv2.connectedComponentsWithStats(blue)
    band = np.zeros_like(blue)
    for i in range(1, count):
        x, _, bw, bh, area = stats[i]
        near_edge = x < 0.2 * w or x + bw > 0.8 * w
        if near_edge and bh >= 0.4 * h and bw <= 0.2 * w and area >= 0.4 * bw * bh:
            band[labels == i] = 255
    if cv2.countNonZero(band) == 0:
        return gray
    out = gray.copy()
    out[band > 0] = int(np.percentile(gray, 90))
    return out


def normalise_plate(plate_bgr: np.ndarray, height: int) -> np.ndarray:
    """Plate crop -> deskewed grey image of a fixed height, EU band suppressed."""
    h, w = plate_bgr.shape[:2]
    width = max(8, round(w * height / max(h, 1)))
    resized = cv2.resize(plate_bgr, (width, height), interpolation=cv2.INTER_CUBIC if h < height else cv2.INTER_AREA)
    return deskew(suppress_blue(resized))


def character_crops(image: np.ndarray, boxes: list[Box]) -> list[np.ndarray]:
    """Each character box with a margin of background, cut from a filtered plate image."""
    h, w = image.shape[:2]
    out = []
    for b in boxes:
        m = round(b.h * CHAR_MARGIN)
        out.append(image[max(0, b.y - m) : min(h, b.y2 + m), max(0, b.x - m) : min(w, b.x2 + m)])
    return out


@dataclass
class CropBatch:
    """Character crops of one image, in model-call order, and where each variant's crops lie."""

    crops: list[np.ndarray] = field(default_factory=list)
    spans: list[list[tuple[int, int]]] = field(default_factory=list)  # per candidate, per variant
    priors: list[np.ndarray] = field(default_factory=list)  # per variant, candidates in order


class PlateReader:
    """A loaded character model with its preprocessing, ready to read plates."""

    def __init__(self, model_path: Path, cfg: RecognizeConfig | None = None) -> None:
        self.cfg = cfg or RecognizeConfig()
        self.cfg.validate()
        self.filters = filter_bank(self.cfg.filters)
        self.model_path = Path(model_path)
        self.model, self.preprocess = load_model(self.model_path)
        self._forward: Callable[[np.ndarray], object] | None = None

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Class probabilities of a batch in one model call (traced once, for any batch size)."""
        if len(x) == 0:
            return np.zeros((0, len(CLASSES)), dtype=np.float32)
        if self._forward is None:
            import tensorflow as tf

            spec = tf.TensorSpec((None, *self.model.input_shape[1:]), tf.float32)
            self._forward = tf.function(lambda batch: self.model(batch, training=False), input_signature=[spec])
        return np.asarray(self._forward(np.asarray(x, dtype=np.float32)))

    def plate_views(self, plate_bgr: np.ndarray) -> list[np.ndarray]:
        """A candidate's crop normalised for segmentation, and again rectified when its plate's corners are found.

        The two views complement each other: the rectified one rescues plates seen at an
        angle (small, sheared characters in a loose box), the plain one is safe when the
        corners are misjudged (a plate merged with a white car).
        """
        views = [normalise_plate(plate_bgr, self.cfg.plate_height)]
        if self.cfg.rectify:
            rectified = rectify_plate(plate_bgr, self.cfg.plate_height)
            if rectified is not None:
                views.append(normalise_plate(rectified, self.cfg.plate_height))
        return views

    def filtered_variants(self, plate_bgr: np.ndarray) -> list[np.ndarray]:
        """Every view of a candidate's crop under every filter of the bank: what the vote reads."""
        return [f(view) for view in self.plate_views(plate_bgr) for f in self.filters]

    def plate_crops(self, image: np.ndarray, candidates: list[PlateCandidate]) -> CropBatch:
        """Every character crop of every candidate box in every variant, with its bookkeeping."""
        batch = CropBatch()
        for cand in candidates:
            variant_spans = []
            for filtered in self.filtered_variants(crop(image, cand.box)):
                boxes = segment_plate(filtered)
                if len(boxes) < PLATE_LENGTH:
                    boxes = []  # too few to decode: not worth the model's time
                start = len(batch.crops)
                batch.crops += character_crops(filtered, boxes)
                variant_spans.append((start, len(batch.crops)))
                batch.priors.append(box_prior(np.array([b.h for b in boxes]), np.array([b.w for b in boxes])))
            batch.spans.append(variant_spans)
        return batch

    def decode_variants(self, image: np.ndarray, candidates: list[PlateCandidate]) -> list[list[Decoded | None]]:
        """Each candidate's variants (view by view, filter by filter) decoded; None where one gave no plate.

        All character crops of all candidates and variants go through the model in one call.
        """
        batch = self.plate_crops(image, candidates)
        probs = self.predict(preprocess_batch(batch.crops, self.preprocess))
        priors = iter(batch.priors)
        return [[decode_plate(probs[s:e], next(priors)) for s, e in spans] for spans in batch.spans]

    def read_candidates(self, image: np.ndarray, candidates: list[PlateCandidate]) -> tuple[Reading, int]:
        """Read every candidate box with the whole filter bank; return the best reading and its index."""
        decoded = self.decode_variants(image, candidates)
        return best_candidate(decoded, [c.prior for c in candidates])

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
            if index >= 0:
                result.box, result.source = candidates[index].box, candidates[index].source
            result.text, result.confidence = reading.text, reading.confidence
            result.char_probs, result.votes = reading.char_probs, reading.votes
            if reading.text and reading.confidence < self.cfg.min_confidence:
                result.extra["uncertain_reading"] = reading.text
                result.text = ""
        except InputError as exc:
            result.error = str(exc)
        result.seconds = time.perf_counter() - started
        return result

    def candidates(self, image: np.ndarray, path: Path, labels: Path | None) -> list[PlateCandidate]:
        """Plate boxes from the image's YOLO label file (with the configured margin), else the localiser's.

        The localiser takes over when no label folder is given, the image has no label
        file, or its label file holds no usable plate box.
        """
        h, w = image.shape[:2]
        if labels is not None:
            label_file = Path(labels) / f"{Path(path).stem}.txt"
            boxes: list[Box] = []
            if label_file.is_file():
                try:
                    boxes = plate_boxes_from_labels(label_file, w, h)
                except InputError as exc:
                    log.warning("%s; finding the plate without it", exc)
                if not boxes:
                    log.warning("%s: no usable plate box; finding the plate without it", label_file)
            else:
                log.debug("%s: no label file; finding the plate without it", label_file)
            if boxes:
                return [PlateCandidate(expand_box(b, self.cfg.plate_margin, w, h), "label") for b in boxes]
        return self.localise(image)

    def given_box(self, image: np.ndarray, box: Box) -> list[PlateCandidate]:
        """A box given with the image (``source`` "given"), grown by the labels' margin."""
        h, w = image.shape[:2]
        return [PlateCandidate(expand_box(box, self.cfg.plate_margin, w, h), "given")]

    def localise(self, image: np.ndarray) -> list[PlateCandidate]:
        """The localiser's top candidates (verified later by reading them all)."""
        from plateocr.localize import find_plate_candidates

        found = [c for c in find_plate_candidates(image, self.cfg.max_candidates) if c.box[2] >= 8 and c.box[3] >= 4]
        if not found:
            return []
        top = max(c.score for c in found)
        return [
            PlateCandidate(Box(*c.box), f"localiser:{c.source}", math.exp((c.score - top) / LOCALISER_TEMPERATURE))
            for c in found
        ]


def best_candidate(decoded: list[list[Decoded | None]], priors: list[float]) -> tuple[Reading, int]:
    """The vote of the candidate whose agreeing variants weigh most, times its prior; and its index (-1: none)."""
    best, best_index, best_score = Reading.empty(), -1, -1.0
    for index, variants in enumerate(decoded):
        decodings = [d for d in variants if d is not None]
        reading = vote(decodings)
        score = plate_score(reading, decodings) * priors[index]
        if score > best_score:
            best, best_index, best_score = reading, index, score
    return best, best_index


def plate_score(reading: Reading, decodings: list[Decoded]) -> float:
    """How much to trust a candidate's reading: the summed weight of the variants that agree with it.

    A candidate read in two views (plain and rectified) can gather twice the votes: finding a
    plate's corners is itself evidence of a plate.
    """
    return sum(variant_weight(d) for d in decodings if d.text == reading.text)


def load_model(path: Path) -> tuple[object, PreprocessConfig]:
    """Load a trained ``.h5`` model and its sidecar; check it predicts our 36 classes.

    Raises:
        SetupError: missing, unreadable or incompatible model.
    """
    path = Path(path)
    if not path.is_file():
        raise SetupError(f"{path}: no model found; train one with `python train_cnn.py --out {path}` (or `make model`)")
    sidecar = sidecar_path(path)
    preprocess = PreprocessConfig()
    if sidecar.is_file():
        try:
            meta = json.loads(sidecar.read_text(encoding="utf-8"))
            if not isinstance(meta, dict):
                raise SetupError(f"{sidecar}: model sidecar is not a JSON object")
            if meta.get("classes", "".join(CLASSES)) != "".join(CLASSES):
                raise SetupError(f"{sidecar}: model class map {meta.get('classes')!r} is not {''.join(CLASSES)!r}")
            preprocess = PreprocessConfig(**meta.get("preprocess", {}))
            preprocess.validate()
        except (json.JSONDecodeError, TypeError, ValueError) as exc:
            raise SetupError(f"{sidecar}: unreadable model sidecar ({exc})") from exc
    import_tensorflow_quietly()
    import keras

    try:
        model = keras.models.load_model(path, compile=False)
    except Exception as exc:  # noqa: BLE001 - h5py/keras raise many types for a corrupt file
        raise SetupError(f"{path}: cannot load model ({exc.__class__.__name__}: {str(exc)[:200]})") from exc
    out_shape = tuple(model.output_shape)
    in_shape = tuple(model.input_shape)
    if out_shape[-1] != len(CLASSES):
        raise SetupError(f"{path}: model predicts {out_shape[-1]} classes, expected {len(CLASSES)}")
    if in_shape[1:] != (preprocess.size, preprocess.size, 1):
        raise SetupError(f"{path}: model input {in_shape[1:]} does not match preprocessing size {preprocess.size}")
    return model, preprocess


def list_images(folder: Path, include_all: bool, recursive: bool = False) -> list[Path]:
    """Images in ``folder`` sorted by name; only Spanish-plate names unless ``include_all``.

    Raises:
        SetupError: ``folder`` is not a folder.
    """
    from plateocr.inputs import folder_images

    files = folder_images(folder, recursive)
    return files if include_all else [p for p in files if SPANISH_PLATE.match(p.stem)]


def recognize_folder(
    reader: PlateReader | ReaderSpec,
    images: list[Path],
    labels: Path | None,
    *,
    names: list[str] | None = None,
    jobs: int = 1,
    outputs: ImageOutputs | None = None,
    on_result: Callable[[ImageResult], None] | None = None,
) -> list[ImageResult]:
    """Read every image, in input order; failures are recorded per image and the batch goes on.

    Args:
        reader: a loaded reader; with ``jobs > 1`` a ``ReaderSpec`` spares the main process the model.
        images: files to read.
        labels: YOLO label folder (``<labels>/<stem>.txt``), or None for the localiser only.
        names: unique output names (default: ``plateocr.inputs.unique_names``).
        jobs: worker processes (see ``plateocr.batch.read_all``).
        outputs: annotated photos and plate crops to write per image.
        on_result: called as each image finishes (progress).

    Raises:
        PlateOCRError: a worker process could not load the model.
    """
    from plateocr.batch import read_all
    from plateocr.inputs import unique_names

    def finished(result: ImageResult) -> None:
        if result.error:
            log.error("%s", result.error)
        if on_result is not None:
            on_result(result)

    names = unique_names(images) if names is None else names
    return read_all(reader, images, labels, names, jobs, outputs, finished)


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
    "load_model",
    "recognize_folder",
]
