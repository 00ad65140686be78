"""Which images to read, in which order, and the unique name each one gets in the outputs."""

from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

from plateocr.errors import SetupError
from plateocr.imageio import IMAGE_SUFFIXES

log = logging.getLogger(__name__)


def is_image_name(path: Path) -> bool:
    """A visible file whose suffix is one we decode (hidden files include our own temporary files)."""
    return not path.name.startswith(".") and path.suffix.lower() in IMAGE_SUFFIXES


def folder_images(folder: Path, recursive: bool = False) -> list[Path]:
    """Image files in ``folder`` (and its sub-folders when ``recursive``), in sorted path order.

    Hidden files and folders are skipped; folder symlinks are followed once (no loops).

    Raises:
        SetupError: ``folder`` is not a folder.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise SetupError(f"{folder}: image folder not found")
    if not recursive:
        return sorted(p for p in folder.iterdir() if is_image_name(p) and p.is_file())
    found: list[Path] = []
    seen: set[str] = set()
    for root, dirs, files in os.walk(folder, followlinks=True):
        real = os.path.realpath(root)
        if real in seen:
            dirs[:] = []
            continue
        seen.add(real)
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found += (p for p in (Path(root) / f for f in files) if is_image_name(p) and p.is_file())
    return sorted(found, key=lambda p: p.relative_to(folder).parts)


def collect_inputs(paths: Sequence[Path], recursive: bool = False) -> list[Path]:
    """Expand command-line inputs: files as given (whatever their suffix), folders into their images.

    Arguments keep their order; a folder's images come in sorted order; a file named twice is read once.

    Raises:
        SetupError: an argument does not exist.
    """
    images: list[Path] = []
    seen: set[str] = set()
    for arg in paths:
        arg = Path(arg)
        if arg.is_dir():
            files = folder_images(arg, recursive)
            if not files:
                log.warning("%s: no images found%s", arg, "" if recursive else " (sub-folders need --recursive)")
        elif arg.exists():
            files = [arg]
        else:
            raise SetupError(f"{arg}: no such file or folder")
        for path in files:
            key = os.path.realpath(path)
            if key not in seen:
                seen.add(key)
                images.append(path)
    return images


def printable(text: str) -> str:
    """``text`` safe for a one-line UTF-8 record: undecodable bytes and control characters become '?'."""
    text = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace").replace("\ufffd", "?")
    return "".join("?" if ord(c) < 32 or ord(c) == 127 else c for c in text)


def unique_names(paths: Iterable[Path]) -> list[str]:
    """The name of each image in the outputs: its stem, or its path relative to the inputs' common
    folder when two images share a stem (``a/1234BCD.jpg`` and ``b/1234BCD.jpg``)."""
    paths = [Path(p) for p in paths]
    names = [printable(p.stem) for p in paths]
    counts = Counter(names)
    if all(n == 1 for n in counts.values()):
        return names
    absolute = [os.path.abspath(p) for p in paths]
    base = os.path.commonpath([os.path.dirname(a) for a in absolute])
    return [
        name if counts[name] == 1 else printable(Path(os.path.relpath(a, base)).as_posix())
        for name, a in zip(names, absolute, strict=True)
    ]
