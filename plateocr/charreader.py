"""The Chars74K reader, the faithful port: plate crop -> views -> filter bank -> contour segmentation ->
character CNN (one batched call) -> the vote over the variants under the ``NNNNAAA`` format.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from config import CLASSES, PLATE_LENGTH, PreprocessConfig, RecognizeConfig
from plateocr.decode import Decoded, Reading, box_prior, confirmed_crops, decode_plate, variant_weight, vote
from plateocr.errors import SetupError
from plateocr.filters import filter_bank
from plateocr.onnxrt import OnnxModel, onnx_path, sidecar_path
from plateocr.plates import Box
from plateocr.preprocess import preprocess_batch
from plateocr.rectify import blue_mask, rectify_plate
from plateocr.segment import deskew, segment_plate

# Each character crop keeps this much of its height as background around it.
CHAR_MARGIN = 0.12


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


class CharsReader:
    """A loaded Chars74K model with its preprocessing and filter bank: plate crops in, ``NNNNAAA`` readings out."""

    name = "chars"

    def __init__(self, model_path: Path, cfg: RecognizeConfig, threads: int | None = None) -> None:
        self.cfg = cfg
        self.filters = filter_bank(cfg.filters)
        self.model_path = Path(model_path)
        self.model, self.preprocess = load_model(self.model_path, threads)

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Class probabilities of a batch in one model call (ONNX Runtime, any batch size)."""
        if len(x) == 0:
            return np.zeros((0, len(CLASSES)), dtype=np.float32)
        return self.model.predict(x)

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

    def plate_crops(self, plates: list[np.ndarray]) -> CropBatch:
        """Every character crop of every plate crop in every variant, with its bookkeeping."""
        batch = CropBatch()
        for plate in plates:
            variant_spans = []
            for filtered in self.filtered_variants(plate):
                boxes = segment_plate(filtered)
                if len(boxes) < PLATE_LENGTH:
                    boxes = []  # too few to decode: not worth the model's time
                start = len(batch.crops)
                batch.crops += character_crops(filtered, boxes)
                variant_spans.append((start, len(batch.crops)))
                batch.priors.append(box_prior(np.array([b.h for b in boxes]), np.array([b.w for b in boxes])))
            batch.spans.append(variant_spans)
        return batch

    def decode_variants(self, plates: list[np.ndarray]) -> list[list[Decoded | None]]:
        """Each plate crop's variants (view by view, filter by filter) decoded; None where one gave no plate.

        All character crops of all plates and variants go through the model in one call.
        """
        batch = self.plate_crops(plates)
        probs = self.predict(preprocess_batch(batch.crops, self.preprocess))
        priors = iter(batch.priors)
        return [[decode_plate(probs[s:e], next(priors)) for s, e in spans] for spans in batch.spans]

    def read(self, plates: list[np.ndarray]) -> list[tuple[Reading, float]]:
        """Each plate crop's voted ``NNNNAAA`` reading and its plate score, all crops in one model call."""
        return [candidate_vote(variants) for variants in self.decode_variants(plates)]


def candidate_vote(variants: list[Decoded | None]) -> tuple[Reading, float]:
    """One candidate's Chars74K reading (the vote of its variants) and its plate score."""
    decodings = [d for d in variants if d is not None]
    reading = vote(decodings)
    return reading, plate_score(reading, decodings)


def best_candidate(
    decoded: list[list[Decoded | None]], priors: list[float], tightens: list[int] | None = None
) -> tuple[Reading, int]:
    """The port's choice among candidate boxes: the vote whose agreeing variants weigh most, times its prior.

    ``tightens[i]`` >= 0: box ``i`` is a tighter crop of that box and counts only where it, or another
    crop of it, reads the same (``decode.confirmed_crops``).
    """
    votes = [candidate_vote(variants) for variants in decoded]
    confirmed = confirmed_crops([reading.text for reading, _ in votes], tightens)
    best, best_index, best_score = Reading.empty(), -1, -1.0
    for index, (reading, score) in enumerate(votes):
        if not confirmed[index]:
            continue
        if score * priors[index] > best_score:
            best, best_index, best_score = reading, index, score * priors[index]
    return best, best_index


def plate_score(reading: Reading, decodings: list[Decoded]) -> float:
    """How much to trust a candidate's reading: the summed weight of the variants that agree with it.

    A candidate read in two views (plain and rectified) can gather twice the votes: finding a
    plate's corners is itself evidence of a plate.
    """
    return sum(variant_weight(d) for d in decodings if d.text == reading.text)


def load_model(path: Path, threads: int | None = None) -> tuple[OnnxModel, PreprocessConfig]:
    """Load a trained model's ONNX export (beside its ``.h5``) and its sidecar; check it predicts our 36 classes.

    ``path`` names the ``.h5`` (or the ``.onnx``); only the ``.onnx`` is read, by ONNX Runtime with
    ``threads`` intra-op threads (None: every usable CPU), so reading never imports TensorFlow.

    Raises:
        SetupError: missing, unreadable or incompatible model, or an older model with no ONNX export.
    """
    path = Path(path)
    exported = onnx_path(path)
    if not exported.is_file():
        if path.is_file():
            raise SetupError(
                f"{path}: no ONNX export beside it ({exported.name}; models trained before ONNX reading have none); "
                f"export it with `python train_cnn.py --export-onnx {path}` (or `make model`)"
            )
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
    model = OnnxModel(exported, threads)
    out_shape, in_shape = model.output_shape, model.input_shape
    if out_shape[-1] != len(CLASSES):
        raise SetupError(f"{exported}: model predicts {out_shape[-1]} classes, expected {len(CLASSES)}")
    if in_shape[1:] != (preprocess.size, preprocess.size, 1):
        raise SetupError(f"{exported}: model input {in_shape[1:]} does not match preprocessing size {preprocess.size}")
    return model, preprocess
