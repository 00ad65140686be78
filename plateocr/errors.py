"""Typed exceptions raised by the library; only the CLIs turn them into messages and exit codes."""

from __future__ import annotations


class PlateOCRError(Exception):
    """Base class of every error the library raises on purpose."""


class SetupError(PlateOCRError):
    """The run cannot start: missing model, missing data, bad configuration (exit code 2)."""


class DataError(PlateOCRError):
    """A dataset is missing, incomplete or corrupt."""


class InputError(PlateOCRError):
    """One input (image or label file) cannot be used; the batch goes on without it."""


class UnsupportedImageError(InputError):
    """The data is not in an image format that can be decoded (a web service answers 415)."""


class ImageTooLargeError(InputError):
    """The image has more pixels than allowed (a web service answers 413)."""
