"""Chars74K loading and the class map."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from config import CLASSES
from plateocr.errors import DataError

log = logging.getLogger(__name__)

CHARS74K_SUBSETS = {"good": "GoodImg", "bad": "BadImag"}


def sample_folder(class_index: int) -> str:
    """Chars74K folder of ``CLASSES[class_index]``: ``Sample001`` is ``0``, ``Sample011`` is ``A``."""
    return f"Sample{class_index + 1:03d}"


def chars74k_root(data_dir: Path, subset: str = "good") -> Path:
    """The ``Bmp`` folder of one Chars74K subset inside the prepared data folder."""
    return Path(data_dir) / "chars74k" / "English" / "Img" / CHARS74K_SUBSETS[subset] / "Bmp"


@dataclass
class CharacterSet:
    """Character crops (grey uint8, various sizes) with their class indices into ``CLASSES``."""

    images: list[np.ndarray]
    labels: np.ndarray
    paths: list[Path]

    def __len__(self) -> int:
        return len(self.images)


def load_chars74k(
    data_dir: Path, subsets: tuple[str, ...] = ("good",), limit_per_class: int | None = None
) -> CharacterSet:
    """Load Chars74K classes ``0-9A-Z`` as grey crops, class order taken from ``CLASSES``.

    Raises:
        DataError: a class folder is missing or holds no readable image.
    """
    images: list[np.ndarray] = []
    labels: list[int] = []
    paths: list[Path] = []
    for subset in subsets:
        root = chars74k_root(data_dir, subset)
        for index, name in enumerate(CLASSES):
            folder = root / sample_folder(index)
            if not folder.is_dir():
                raise DataError(f"{folder}: missing Chars74K folder for class {name!r}; run `make data`")
            files = sorted(folder.glob("*.png"))[:limit_per_class]
            loaded = 0
            for file in files:
                image = cv2.imread(str(file), cv2.IMREAD_GRAYSCALE)
                if image is None or image.size == 0:
                    log.warning("%s: cannot decode, skipped", file)
                    continue
                images.append(image)
                labels.append(index)
                paths.append(file)
                loaded += 1
            if loaded == 0:
                raise DataError(f"{folder}: no readable image for class {name!r}")
    log.info("loaded %d Chars74K crops (%s)", len(images), "+".join(subsets))
    return CharacterSet(images, np.asarray(labels, dtype=np.int64), paths)
