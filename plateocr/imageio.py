"""Reading photos safely: any 8/16-bit, grey/colour/alpha image as 8-bit BGR, EXIF orientation applied.

OpenCV decodes the common formats; Pillow decodes HEIF/HEIC, what phones save by default (through
``pillow-heif``'s libheif, registered here as Pillow's opener), and AVIF (Pillow's own plugin).
"""

from __future__ import annotations

import io
import struct
import warnings
from pathlib import Path

import cv2
import numpy as np
import pillow_heif
from PIL import Image, ImageOps, UnidentifiedImageError

from plateocr.errors import ImageTooLargeError, InputError, UnsupportedImageError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".heic", ".heif", ".avif")
# Formats (as Pillow names them) that OpenCV cannot decode: Pillow decodes them.
PILLOW_FORMATS = ("HEIF", "AVIF")
pillow_heif.register_heif_opener()
# Larger images are refused before decoding (a 20,000 x 20,000 header would need 1.2 GB).
MAX_PIXELS = 80_000_000


def resize_by(image: np.ndarray, scale: float, interpolation: int) -> np.ndarray:
    """``image`` resized by ``scale`` each way, but at least one pixel each way (OpenCV refuses to
    scale a strip 10 px high and 5,000 long down to nothing); the same pixels as
    ``cv2.resize(image, None, fx=scale, fy=scale)`` wherever that works."""
    height, width = image.shape[:2]
    if min(height, width) * scale >= 1.0:
        return cv2.resize(image, None, fx=scale, fy=scale, interpolation=interpolation)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(image, size, interpolation=interpolation)


def read_image(path: Path) -> np.ndarray:
    """Decode an image file to 8-bit BGR.

    Raises:
        InputError: the file is missing, empty, not an image, truncated or too large.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
        data = path.read_bytes() if size else b""
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    return decode_image(data, str(path))


def image_size(data: bytes, name: str) -> tuple[int, int]:
    """``(width, height)`` from the image's header, after checking its structure, without decoding the pixels.

    Raises:
        InputError: empty data, or a file whose structure is broken.
        UnsupportedImageError: not an image format Pillow knows.
        ImageTooLargeError: Pillow's decompression-bomb limit.
    """
    width, height, _ = _probe(data, name)
    return width, height


def _probe(data: bytes, name: str) -> tuple[int, int, str]:
    """``(width, height, format)`` from the image's header (``image_size``), the format as Pillow names it.

    Raises:
        InputError: empty data, or a file whose structure is broken.
        UnsupportedImageError: not an image format Pillow knows.
        ImageTooLargeError: Pillow's decompression-bomb limit.
    """
    if not data:
        raise InputError(f"{name}: empty file")
    try:
        with warnings.catch_warnings():
            # The size check names the file; Pillow's own warning would only add noise.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:
                width, height = probe.size
                kind = probe.format or ""
                # Structure and checksums (PNG chunk CRCs) checked before a C decoder prints its complaints.
                probe.verify()
    except Image.DecompressionBombError as exc:
        raise ImageTooLargeError(f"{name}: image too large ({exc})") from exc
    except UnidentifiedImageError as exc:
        raise UnsupportedImageError(f"{name}: not a readable image ({exc.__class__.__name__})") from exc
    except (OSError, ValueError, SyntaxError, EOFError, struct.error) as exc:
        raise InputError(f"{name}: not a readable image ({exc.__class__.__name__})") from exc
    return width, height, kind


def decode_image(data: bytes, name: str, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Decode an image held in memory (a file's bytes) to 8-bit BGR; ``name`` only labels the errors.

    Raises:
        InputError: empty, not an image (``UnsupportedImageError``), truncated, too small,
            or more than ``max_pixels`` pixels (``ImageTooLargeError``).
    """
    width, height, kind = _probe(data, name)
    if width * height > max_pixels:
        raise ImageTooLargeError(f"{name}: image too large ({width}x{height} pixels, limit {max_pixels:,})")
    if kind in PILLOW_FORMATS:
        image = _pillow_decode(data)
    else:
        # IMREAD_COLOR gives 8-bit BGR from grey, alpha and 16-bit files and applies EXIF orientation.
        image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    if image is None or image.size == 0:
        raise InputError(f"{name}: cannot decode image data (truncated or corrupt)")
    if min(image.shape[:2]) < 8:
        raise InputError(f"{name}: image too small ({image.shape[1]}x{image.shape[0]} pixels)")
    return image


def _pillow_decode(data: bytes) -> np.ndarray | None:
    """8-bit BGR pixels of an image Pillow decodes (HEIF, AVIF), EXIF orientation applied; None when it cannot."""
    try:
        with Image.open(io.BytesIO(data)) as opened:
            upright = ImageOps.exif_transpose(opened).convert("RGB")
    except (OSError, ValueError, SyntaxError, EOFError, struct.error):
        return None
    return cv2.cvtColor(np.asarray(upright), cv2.COLOR_RGB2BGR)
