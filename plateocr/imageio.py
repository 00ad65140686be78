"""Reading photos safely: any 8/16-bit, grey/colour/alpha image as 8-bit BGR, EXIF orientation applied."""

from __future__ import annotations

import struct
import warnings
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from plateocr.errors import InputError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
# Larger images are refused before decoding (a 20,000 x 20,000 header would need 1.2 GB).
MAX_PIXELS = 80_000_000


def read_image(path: Path) -> np.ndarray:
    """Decode an image file to 8-bit BGR.

    Raises:
        InputError: the file is missing, empty, not an image, truncated or too large.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    if size == 0:
        raise InputError(f"{path}: empty file")
    try:
        with warnings.catch_warnings():
            # The size check below names the file; Pillow's own warning would only add noise.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as probe:
                width, height = probe.size
                # Structure and checksums (PNG chunk CRCs) checked before a C decoder prints its complaints.
                probe.verify()
    except Image.DecompressionBombError as exc:
        raise InputError(f"{path}: image too large ({exc})") from exc
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError, struct.error) as exc:
        raise InputError(f"{path}: not a readable image ({exc.__class__.__name__})") from exc
    if width * height > MAX_PIXELS:
        raise InputError(f"{path}: image too large ({width}x{height} pixels, limit {MAX_PIXELS:,})")
    data = np.fromfile(str(path), dtype=np.uint8)
    # IMREAD_COLOR gives 8-bit BGR from grey, alpha and 16-bit files and applies EXIF orientation.
    image = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if image is None or image.size == 0:
        raise InputError(f"{path}: cannot decode image data (truncated or corrupt)")
    if min(image.shape[:2]) < 8:
        raise InputError(f"{path}: image too small ({image.shape[1]}x{image.shape[0]} pixels)")
    return image
