"""Defaults shared by ``train_cnn.py``, ``recognize_plates.py`` and ``prepare_data.py``.

Every value here is data: the scripts copy it into their flags' defaults, the
library validates it once, and the trainer saves it beside the model.
"""

from __future__ import annotations

import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent

# The class map is explicit: index i of the model's output is CLASSES[i].
# Chars74K folder SampleNNN holds CLASSES[NNN - 1]; never filesystem order.
DIGITS = "0123456789"
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
CLASSES: tuple[str, ...] = tuple(DIGITS + LETTERS)

# Spanish plates since 2000: four digits, then three consonants (no vowels, no Ñ or Q).
SPANISH_LETTERS = "BCDFGHJKLMNPRSTVWXYZ"
SPANISH_PLATE = re.compile(rf"^[0-9]{{4}}[{SPANISH_LETTERS}]{{3}}$")
PLATE_LENGTH = 7

# Which readers read each plate box (see RecognizeConfig.reader), and the formats a reading can have:
# a Spanish plate (answered), other text (a foreign or old plate: not answered), or no text.
READERS: tuple[str, ...] = ("chars", "plate", "both")
FORMATS: tuple[str, ...] = ("spanish", "foreign", "none")

# Character-model architectures (built in plateocr.models): the original network and the default.
ARCHITECTURES: tuple[str, ...] = ("seed", "wide")

DEFAULT_MIRROR = ROOT.parent / "shared" / "data"
DATA_DIR = ROOT / "data"
MODEL_PATH = ROOT / "models" / "chars74k_cnn.h5"
# The whole-plate reader's default model; PLATEOCR_PLATE_MODEL names another (a cluster's shared copy).
PLATE_MODEL_PATH = Path(os.environ.get("PLATEOCR_PLATE_MODEL") or ROOT / "models" / "plate_reader.h5")
# The corner finder's default model (plateocr.corners); PLATEOCR_CORNER_MODEL names another.
CORNER_MODEL_PATH = Path(os.environ.get("PLATEOCR_CORNER_MODEL") or ROOT / "models" / "plate_corners.h5")

# The whole-plate reader's output alphabet: the 36 classes, then the pad that fills unused slots.
PAD = "_"
PLATE_ALPHABET: tuple[str, ...] = (*CLASSES, PAD)


@dataclass(frozen=True)
class PreprocessConfig:
    """How a character crop becomes the model's input (shared by training and recognition)."""

    size: int = 32
    # "pad": keep the aspect ratio and pad to a square; "stretch": resize the tight crop to fill.
    fit: str = "pad"
    # A character narrower than this fraction of its height is padded even in "stretch" mode.
    min_aspect: float = 0.0

    def validate(self) -> None:
        if self.size < 8 or self.size > 128:
            raise ValueError(f"preprocess size must be in [8, 128], got {self.size}")
        if self.fit not in ("pad", "stretch"):
            raise ValueError(f"preprocess fit must be 'pad' or 'stretch', got {self.fit!r}")
        if not 0.0 <= self.min_aspect <= 1.0:
            raise ValueError(f"preprocess min_aspect must be in [0, 1], got {self.min_aspect}")


@dataclass(frozen=True)
class TrainConfig:
    """Defaults of ``train_cnn.py``."""

    data_dir: Path = DATA_DIR
    out: Path = MODEL_PATH
    arch: str = "wide"
    epochs: int = 15
    batch_size: int = 64
    seed: int = 42
    include_bad: bool = False
    val_fraction: float = 0.15
    patience: int = 4
    learning_rate: float = 1e-3
    augment_copies: int = 2
    # Synthetic plates rendered, degraded and cut by our own segmenter into extra training crops.
    synthetic_plates: int = 3000
    # Stop after the epoch that passes this wall-clock budget (0: no budget).
    max_seconds: float = 0.0
    preprocess: PreprocessConfig = field(default_factory=PreprocessConfig)

    def validate(self) -> None:
        if self.arch not in ARCHITECTURES:
            raise ValueError(f"unknown architecture {self.arch!r}; choose from {list(ARCHITECTURES)}")
        if self.epochs < 1:
            raise ValueError(f"epochs must be >= 1, got {self.epochs}")
        if self.batch_size < 1:
            raise ValueError(f"batch size must be >= 1, got {self.batch_size}")
        if not 0.0 < self.val_fraction < 0.5:
            raise ValueError(f"validation fraction must be in (0, 0.5), got {self.val_fraction}")
        if self.augment_copies < 0:
            raise ValueError(f"augment copies must be >= 0, got {self.augment_copies}")
        if self.patience < 1:
            raise ValueError(f"patience must be >= 1, got {self.patience}")
        if self.synthetic_plates < 0:
            raise ValueError(f"synthetic plates must be >= 0, got {self.synthetic_plates}")
        if self.max_seconds < 0:
            raise ValueError(f"time budget must be >= 0 seconds, got {self.max_seconds}")
        if not 0.0 < self.learning_rate < 1.0:
            raise ValueError(f"learning rate must be in (0, 1), got {self.learning_rate}")
        self.preprocess.validate()


# The whole-plate reader's input normalisations (PlateModelConfig.contrast).
PLATE_CONTRASTS = ("stretch", "local", "dual")


@dataclass(frozen=True)
class PlateModelConfig:
    """The whole-plate reader's input and output (shared by its training and reading; saved beside it)."""

    height: int = 64
    width: int = 128
    # Fixed output positions: the longest plate text read (German plates reach 10 with an "E" suffix).
    slots: int = 10
    alphabet: tuple[str, ...] = PLATE_ALPHABET
    # How the grey crop's levels are normalised (plateocr.platemodel.plate_input): "stretch" (between
    # the whole crop's 2nd and 98th percentiles), "local" (each pixel against its neighbourhood's mean
    # and spread, so a shadow edge across the plate leaves both sides alike) or "dual" (both, as two
    # input channels; docs/trust_log.md: local and dual measured, left off). A sidecar that names no contrast was
    # trained on "stretch".
    contrast: str = "stretch"

    @property
    def channels(self) -> int:
        return 2 if self.contrast == "dual" else 1

    @property
    def pad_index(self) -> int:
        return len(self.alphabet) - 1

    def validate(self) -> None:
        if not (16 <= self.height <= 256 and 32 <= self.width <= 512):
            raise ValueError(f"plate model input must be 16-256 x 32-512 px, got {self.height}x{self.width}")
        if self.height % 16 or self.width % 8:
            # The model's poolings leave a height/16 x width/8 map of cells for its slots to attend over.
            raise ValueError(f"plate model input height must be a multiple of 16 and width of 8, got {self.height}x{self.width}")
        if not PLATE_LENGTH <= self.slots <= 16:
            raise ValueError(f"plate model slots must be in [{PLATE_LENGTH}, 16], got {self.slots}")
        if tuple(self.alphabet) != PLATE_ALPHABET:
            raise ValueError(f"plate model alphabet must be {''.join(PLATE_ALPHABET)!r}")
        if self.contrast not in PLATE_CONTRASTS:
            raise ValueError(f"plate model contrast must be one of {', '.join(PLATE_CONTRASTS)}, got {self.contrast!r}")


# Compute precisions the whole-plate reader can be trained in (Keras dtype policies).
PLATE_PRECISIONS = ("float32", "mixed_bfloat16")


@dataclass(frozen=True)
class PlateTrainConfig:
    """Defaults of ``train_plate.py``: the whole-plate reader, trained on plates generated on the fly."""

    out: Path = PLATE_MODEL_PATH
    data_dir: Path = DATA_DIR
    seed: int = 4242
    # Optimiser steps (batches of fresh plates); an optional wall-time budget (0: none) ends training
    # after the validation that passes it, at the cost of a model that depends on the machine's speed.
    steps: int = 5000
    max_seconds: float = 0.0
    batch_size: int = 48
    learning_rate: float = 2e-3
    # Share of plates whose characters are Chars74K glyphs (needs the Chars74K data; 0 without it).
    chars74k_share: float = 0.2
    # Style families of the generator to train on (empty: all); training on one and testing on
    # another measures transfer (bench/plate_transfer.py).
    families: tuple[str, ...] = ()
    # Curriculum: the share of the steps over which the plates' difficulty (tilt, degradation) rises
    # from EASIEST_DIFFICULTY to full (0: full difficulty from the first step). Validation is always full.
    curriculum: float = 0.4
    # Label smoothing of the slots' targets: this share of each target's probability is spread over every class.
    label_smoothing: float = 0.0
    # Share of the generated plates shown as the reader's levelling shows them (plateocr.platemix.levelled_sample).
    levelled_share: float = 0.0
    # Share of the generator's plates drawn as two-row squares where their format has one (None: the
    # generator's own, plategen.DEFAULT_CONFIG); 0.25 was measured and left off (docs/trust_log.md).
    two_row_share: float | None = None
    # The narrowest generated plate in pixels (widths are drawn log-uniformly from here up). 40 was
    # measured and left off (docs/trust_log.md): fewer real photos read, more of them wrongly.
    min_plate_width: float = 60.0
    # The widest generated plate in pixels (None: each family's own, 260 and 320). The model reads a crop
    # 128 px wide, so a wider plate adds drawing time, not detail.
    max_plate_width: float | None = None
    # Arithmetic of the training steps: "mixed_bfloat16" computes in bfloat16 on float32 weights (16 % faster
    # a step on this CPU; measured and left off as the default, docs/trust_log.md); the saved model is
    # float32 either way.
    precision: str = "float32"
    val_samples: int = 1536
    # Held-out plates read by the trained models to calibrate each reader mode's confidence, and the
    # character model used for the "chars" and "both" modes (skipped when it does not exist).
    calibration_samples: int = 600
    chars_model: Path = MODEL_PATH
    model: PlateModelConfig = field(default_factory=PlateModelConfig)

    def validate(self) -> None:
        if self.steps < 1:
            raise ValueError(f"steps must be >= 1, got {self.steps}")
        if self.precision not in PLATE_PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PLATE_PRECISIONS)}, got {self.precision!r}")
        if self.max_seconds < 0:
            raise ValueError(f"time budget must be >= 0 seconds, got {self.max_seconds}")
        if self.batch_size < 1:
            raise ValueError(f"batch size must be >= 1, got {self.batch_size}")
        if not 0.0 < self.learning_rate < 1.0:
            raise ValueError(f"learning rate must be in (0, 1), got {self.learning_rate}")
        if not 0.0 <= self.chars74k_share <= 1.0:
            raise ValueError(f"Chars74K share must be in [0, 1], got {self.chars74k_share}")
        if not 0.0 <= self.curriculum <= 1.0:
            raise ValueError(f"curriculum must be a share of the steps in [0, 1], got {self.curriculum}")
        if not 0.0 <= self.label_smoothing < 0.5:
            raise ValueError(f"label smoothing must be in [0, 0.5), got {self.label_smoothing}")
        if not 0.0 <= self.levelled_share <= 1.0:
            raise ValueError(f"levelled share must be in [0, 1], got {self.levelled_share}")
        if self.two_row_share is not None and not 0.0 <= self.two_row_share <= 1.0:
            raise ValueError(f"two-row share must be in [0, 1], got {self.two_row_share}")
        if not 16.0 <= self.min_plate_width <= 200.0:
            raise ValueError(f"minimum plate width must be in [16, 200] px, got {self.min_plate_width}")
        if self.max_plate_width is not None and not self.min_plate_width <= self.max_plate_width <= 480.0:
            raise ValueError(
                f"maximum plate width must be in [{self.min_plate_width:g}, 480] px, got {self.max_plate_width}"
            )
        if self.val_samples < 16:
            raise ValueError(f"validation samples must be >= 16, got {self.val_samples}")
        if self.calibration_samples < 0:
            raise ValueError(f"calibration samples must be >= 0, got {self.calibration_samples}")
        self.model.validate()


@dataclass(frozen=True)
class CornerTrainConfig:
    """Defaults of ``train_corners.py``: the corner finder (plateocr.corners), trained on plates generated on the fly."""

    out: Path = CORNER_MODEL_PATH
    seed: int = 2323
    steps: int = 2500
    batch_size: int = 32
    learning_rate: float = 1e-3
    # Share of the generated plates drawn as two-row squares where their format has one. 0.3 rather than the
    # generator's 0.12 (docs/trust_log.md: measured): two-row plates read square-on more often, tilted ones
    # about as often.
    two_row_share: float = 0.3
    val_samples: int = 512

    def validate(self) -> None:
        if self.steps < 1:
            raise ValueError(f"steps must be >= 1, got {self.steps}")
        if self.batch_size < 1:
            raise ValueError(f"batch size must be >= 1, got {self.batch_size}")
        if not 0.0 < self.learning_rate < 1.0:
            raise ValueError(f"learning rate must be in (0, 1), got {self.learning_rate}")
        if not 0.0 <= self.two_row_share <= 1.0:
            raise ValueError(f"two-row share must be in [0, 1], got {self.two_row_share}")
        if self.val_samples < 1:
            raise ValueError(f"validation samples must be >= 1, got {self.val_samples}")


@dataclass(frozen=True)
class RecognizeConfig:
    """Defaults of ``recognize_plates.py``."""

    images: Path = DATA_DIR / "test6Training" / "images"
    labels: Path = DATA_DIR / "test6Training" / "labels"
    model: Path = MODEL_PATH
    # The whole-plate reader's model, and which readers read every box: "chars" (the Chars74K port),
    # "plate" (the whole-plate reader) or "both" (arbitrated; plateocr.arbitrate).
    plate_model: Path = field(default_factory=lambda: PLATE_MODEL_PATH)
    # The corner finder (plateocr.corners): each box is also read warped square-on from the corners it
    # finds, by the whole-plate reader. None, or a model that is not there: no such view (logged).
    corner_model: Path | None = field(default_factory=lambda: CORNER_MODEL_PATH)
    reader: str = "both"
    output: Path = ROOT / "LicenseResults.txt"
    # Margin added around a YOLO plate box, as a fraction of its width and height.
    plate_margin: float = 0.06
    # Plate crops are resized to this height before filtering and segmentation.
    plate_height: int = 96
    # Plate candidates the localiser proposes; all are read and the most confident wins.
    max_candidates: int = 5
    # The first ``tight_candidates`` boxes (the localiser's best; a label's around a turned plate, below)
    # are also read shrunk about their centre to each of ``tight_shares`` of their width and height: the
    # localiser's boxes reach past the plate (a plate grown around its text, then a margin), an upright box
    # around a turned plate holds much besides it, and the readers read a plate surely only in a box that it
    # fills. A tight crop answers only what its box, or another crop of it, answers (decode.confirmed_crops).
    # Measured (docs/trust_log.md): test6's Spanish photos perturbed (bench/perturbed.py) 251 / 229 -> 255 / 235 of 294
    # right (labels / none) with one crop (0.8), 256 / 243 with two, wrong 2 / 1 throughout; the generated
    # tilted set with labels 61 -> 71 -> 75; one phantom more on test6's other photos without labels (0 -> 1).
    tight_candidates: int = 1
    tight_shares: tuple[float, ...] = (0.8, 0.7)
    # A label's box is read tight only where its plate is turned by this many degrees or more
    # (plateocr.level.plate_tilt): a level plate fills its label's box, and its tight crop would only cost
    # time (about 17 ms an image). Of test6's 117 label boxes, 24 are turned by 8 degrees or more.
    tight_min_tilt: float = 8.0
    # Photos of plates already cut out: an image at least ``crop_aspect`` times as wide as it is tall (a one-row
    # plate is 2.5-5 times, a photo or a video frame 1.33-1.78) is read whole as its first box ("image"),
    # before the localiser's and cut tight like them; ``crops`` (``--crops``): every image is, two-row
    # squares too. An image at most ``crop_size`` px long is read whole after the localiser's boxes (a
    # square two-row crop; a photo that small holds no readable plate but its own). Measured (docs/trust_log.md,
    # bench/crops.py): test6's plates cut out 149 -> 263 of 315 right, wrong 10 -> 13; generated two-row
    # crops 33 -> 63. 0: off (each).
    crop_aspect: float = 2.0
    crop_size: int = 256
    crops: bool = False
    # Readings whose confidence (the calibrated probability that the reading is right) is below this are
    # left empty: a wrong plate is worse than none. Chosen on the generated test sets and their subsets
    # (bench/trust.py), not on the test photos: with both readers, 0.7 keeps 98.3 % precision where 0.5
    # keeps 95.7 %, for 3.4 points of recall.
    min_confidence: float = 0.7
    # The filter bank (names in plateocr.filters.FILTERS) applied to every view of a plate.
    # Chosen by backward elimination from all 13 on a generated validation set (seed 7, 300 scenes,
    # kept apart from both test sets; bench/filter_bank.py): with the final pipeline it reads 294 and
    # 287 of 300 (labels, no labels) against 295 and 287 with all 13, in half the time.
    filters: tuple[str, ...] = (
        "blur_otsu",
        "otsu_trunc",
        "adaptive_mean",
        "adaptive_gaussian",
        "bilateral_sharpen",
        "max_filter",
    )
    # Also read each plate rectified (its bright quadrilateral warped square-on) when found.
    rectify: bool = True
    # The crops of each plate box the whole-plate reader reads and fuses (plateocr.views): margins
    # (left, top, right, bottom) as shares of the box's width and height, negative to cut in. The box
    # as it is, loose, tight, and widened on either side; the first two are also read rectified (``rectify``).
    view_margins: tuple[tuple[float, float, float, float], ...] = (
        (0.0, 0.0, 0.0, 0.0),
        (0.06, 0.1, 0.06, 0.1),
        (-0.04, -0.06, -0.04, -0.06),
        (0.06, 0.0, 0.0, 0.0),
        (0.0, 0.0, 0.06, 0.0),
    )
    # The levelled views of each box (plateocr.level): where the plate in it is tilted, it is also read
    # rotated level and cut out with these (horizontal, vertical) margins, shares of its size on each
    # side; their fused reading weighs as much as all the box's views together. Empty: not levelled.
    level_margins: tuple[tuple[float, float], ...] = ((0.06, 0.12), (0.12, 0.25))

    def validate(self) -> None:
        if self.reader not in READERS:
            raise ValueError(f"unknown reader {self.reader!r}; choose from {list(READERS)}")
        if not 0.0 <= self.plate_margin <= 0.5:
            raise ValueError(f"plate margin must be in [0, 0.5], got {self.plate_margin}")
        if not 0.0 <= self.min_confidence <= 1.0:
            raise ValueError(f"min confidence must be in [0, 1], got {self.min_confidence}")
        if not 1 <= self.max_candidates <= 50:
            raise ValueError(f"max candidates must be in [1, 50], got {self.max_candidates}")
        if not 0 <= self.tight_candidates <= self.max_candidates:
            raise ValueError(f"tight candidates must be in [0, max candidates], got {self.tight_candidates}")
        if not all(0.5 <= share <= 1.0 for share in self.tight_shares) or len(set(self.tight_shares)) != len(self.tight_shares):
            raise ValueError(f"tight shares must be distinct shares in [0.5, 1], got {list(self.tight_shares)}")
        if self.crop_aspect != 0 and not 1.0 <= self.crop_aspect <= 20.0:
            raise ValueError(f"crop aspect must be 0 (off) or in [1, 20], got {self.crop_aspect}")
        if not 0 <= self.crop_size <= 4096:
            raise ValueError(f"crop size must be in [0, 4096] px (0: off), got {self.crop_size}")
        if not 0.0 <= self.tight_min_tilt <= 90.0:
            raise ValueError(f"tight min tilt must be in [0, 90] degrees, got {self.tight_min_tilt}")
        if not 32 <= self.plate_height <= 512:
            raise ValueError(f"plate height must be in [32, 512], got {self.plate_height}")
        if not self.filters or len(set(self.filters)) != len(self.filters):
            raise ValueError(f"filters must be a non-empty list of distinct names, got {list(self.filters)}")
        if not self.view_margins or any(len(m) != 4 or not all(-0.25 <= v <= 0.5 for v in m) for m in self.view_margins):
            raise ValueError(f"view margins must be a non-empty list of 4 shares in [-0.25, 0.5] each, got {list(self.view_margins)}")
        if any(len(m) != 2 or not all(0.0 <= v <= 0.5 for v in m) for m in self.level_margins):
            raise ValueError(f"level margins must be pairs of shares in [0, 0.5], got {list(self.level_margins)}")


@dataclass(frozen=True)
class ServeConfig:
    """Defaults of ``serve_plates.py`` (the HTTP service)."""

    host: str = "127.0.0.1"
    port: int = 8000
    model: Path = MODEL_PATH
    plate_model: Path = field(default_factory=lambda: PLATE_MODEL_PATH)
    # None: no corner finder, so no square-on view (``--no-corners``).
    corner_model: Path | None = field(default_factory=lambda: CORNER_MODEL_PATH)
    reader: str = "both"
    # Request bodies larger than this are refused with 413 before they are read whole.
    max_bytes: int = 20_000_000
    # Images with more pixels are refused with 413 before their pixels are decoded (12 MP photos pass).
    max_pixels: int = 40_000_000
    # Images waiting for the model; one more gets 503 with Retry-After.
    queue_size: int = 8
    # Seconds a request may wait and be read before it gets 504.
    timeout: float = 30.0
    # Environment variable holding the API key when --api-key is not given.
    api_key_env: str = "PLATEOCR_API_KEY"

    def validate(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port must be in [0, 65535], got {self.port}")
        if self.max_bytes < 1024:
            raise ValueError(f"max bytes must be >= 1024, got {self.max_bytes}")
        if self.max_pixels < 64:
            raise ValueError(f"max pixels must be >= 64, got {self.max_pixels}")
        if self.queue_size < 1:
            raise ValueError(f"queue size must be >= 1, got {self.queue_size}")
        if self.timeout <= 0:
            raise ValueError(f"timeout must be > 0 seconds, got {self.timeout}")


@dataclass(frozen=True)
class VideoConfig:
    """Defaults of ``recognize_plates.py --video``."""

    # Frames read per second of video when --every is not given.
    frames_per_second: float = 5.0
    # A plate unseen for this many seconds has passed: its event closes.
    gap_seconds: float = 1.0
    # Readings differing in at most this many positions belong to the same plate.
    max_differences: int = 2
    # Events seen in fewer frames are dropped as noise.
    min_frames: int = 2
    # A dropped stream is reopened this many times, waiting 1, 2, 4 ... (at most max_backoff) seconds.
    reconnects: int = 5
    max_backoff: float = 30.0

    def validate(self) -> None:
        if self.frames_per_second <= 0:
            raise ValueError(f"frames per second must be > 0, got {self.frames_per_second}")
        if self.gap_seconds <= 0:
            raise ValueError(f"gap must be > 0 seconds, got {self.gap_seconds}")
        if not 0 <= self.max_differences < PLATE_LENGTH:
            raise ValueError(f"max differences must be in [0, {PLATE_LENGTH - 1}], got {self.max_differences}")
        if self.min_frames < 1:
            raise ValueError(f"min frames must be >= 1, got {self.min_frames}")
        if self.reconnects < 0 or self.max_backoff <= 0:
            raise ValueError(f"reconnects must be >= 0 and max backoff > 0, got {self.reconnects}, {self.max_backoff}")


def to_jsonable(obj: Any) -> Any:
    """A config dataclass as plain JSON data (paths become strings)."""
    if hasattr(obj, "__dataclass_fields__"):
        return {k: to_jsonable(v) for k, v in asdict(obj).items()}
    if isinstance(obj, dict):
        return {k: to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, Path):
        return str(obj)
    return obj
