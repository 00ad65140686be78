"""The class map and Chars74K loading: labels come from folder numbers, never filesystem order."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from config import CLASSES
from plateocr.dataset import chars74k_root, load_chars74k, sample_folder
from plateocr.errors import DataError

EXPECTED = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def test_class_map_order():
    assert "".join(CLASSES) == EXPECTED
    assert len(CLASSES) == len(set(CLASSES)) == 36
    assert CLASSES.index("0") == 0 and CLASSES.index("9") == 9
    assert CLASSES.index("A") == 10 and CLASSES.index("Z") == 35


@pytest.mark.parametrize(
    ("index", "folder"), [(0, "Sample001"), (9, "Sample010"), (10, "Sample011"), (35, "Sample036")]
)
def test_sample_folder(index, folder):
    assert sample_folder(index) == folder


def test_tiny_set_loads_every_class_with_folder_labels(tiny_chars74k):
    chars = load_chars74k(tiny_chars74k)
    assert len(chars) == 36 * 6 == len(chars.labels) == len(chars.paths)
    assert np.bincount(chars.labels, minlength=36).tolist() == [6] * 36
    for image, label, path in zip(chars.images, chars.labels, chars.paths):
        assert image.ndim == 2 and image.dtype == np.uint8  # grey crops
        assert path.parent.name == sample_folder(int(label))


def test_limit_per_class(tiny_chars74k):
    chars = load_chars74k(tiny_chars74k, limit_per_class=2)
    assert np.bincount(chars.labels, minlength=36).tolist() == [2] * 36


def write_coded_tree(data_dir: Path, order: list[int], per_class: int = 2) -> None:
    """Class folders created in ``order``; every image's grey value encodes its class (6 * index + 20)."""
    root = chars74k_root(data_dir)
    for index in order:
        folder = root / f"Sample{index + 1:03d}"
        folder.mkdir(parents=True)
        for k in range(per_class):
            cv2.imwrite(str(folder / f"img{index + 1:03d}-{k:05d}.png"), np.full((20, 16), 6 * index + 20, np.uint8))


def test_labels_follow_folder_numbers_when_folders_are_created_shuffled(tmp_path):
    order = list(range(36)) + [36, 37]  # plus two lowercase folders that must be ignored
    np.random.default_rng(4).shuffle(order)
    write_coded_tree(tmp_path, order)
    chars = load_chars74k(tmp_path)
    assert len(chars) == 72
    for image, label in zip(chars.images, chars.labels):
        assert 0 <= label < 36
        assert (int(image[0, 0]) - 20) // 6 == label, f"{CLASSES[label]} loaded from the wrong folder"


def test_missing_class_folder_raises_data_error_naming_it(tiny_chars74k):
    shutil.rmtree(chars74k_root(tiny_chars74k) / "Sample017")
    with pytest.raises(DataError, match="Sample017"):
        load_chars74k(tiny_chars74k)


def test_class_folder_without_readable_images_raises_data_error(tiny_chars74k):
    folder = chars74k_root(tiny_chars74k) / "Sample036"
    for png in folder.glob("*.png"):
        png.write_bytes(b"not a png")
    with pytest.raises(DataError, match="Sample036"):
        load_chars74k(tiny_chars74k)


def test_missing_dataset_raises_data_error(tmp_path):
    with pytest.raises(DataError, match="Sample001"):
        load_chars74k(tmp_path / "nowhere")
