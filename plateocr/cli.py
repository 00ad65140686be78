"""Pieces shared by the command-line scripts: logging set-up and exit codes."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path

EXIT_OK = 0
EXIT_SOME_FAILED = 1
EXIT_SETUP = 2


def report_or_warn(prog: str, write: Callable[[], dict[str, Path]]) -> dict[str, Path]:
    """The training report's files, or none and a warning: the model is saved, whatever happens to its figures."""
    try:
        return write()
    except (OSError, ValueError) as exc:
        print(f"{prog}: warning: training report not written: {exc}", file=sys.stderr)
        return {}


def add_verbosity(parser: argparse.ArgumentParser) -> None:
    """``--verbose`` / ``--quiet`` flags."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument("-v", "--verbose", action="store_true", help="log diagnostics (DEBUG level)")
    group.add_argument("-q", "--quiet", action="store_true", help="only errors and the results")


def add_corner_flags(parser: argparse.ArgumentParser, default: Path | None) -> None:
    """``--corner-model PATH`` and ``--no-corners`` (read them back with ``corner_model``)."""
    parser.add_argument("--corner-model", type=Path, default=default, metavar="PATH",
                        help="trained corner finder: each plate box is also read warped square-on from the corners "
                        "it finds (default: %(default)s; read without that view when it is missing)")
    parser.add_argument("--no-corners", action="store_true", help="do not find plate corners: no square-on view")


def corner_model(args: argparse.Namespace) -> Path | None:
    """The corner finder ``add_corner_flags``' flags name; None with ``--no-corners``."""
    return None if args.no_corners else args.corner_model


def setup_logging(args: argparse.Namespace) -> None:
    """Configure the root logger from ``--verbose`` / ``--quiet`` and quieten TensorFlow."""
    level = logging.DEBUG if args.verbose else logging.WARNING if args.quiet else logging.INFO
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", force=True)
    quieten_libraries(level)


def quieten_libraries(level: int) -> None:
    """Keep the libraries' own chatter below ``level`` out of the log (all of it shows at DEBUG).

    TensorFlow's native log lines (graph attributes, CPU features) are noise to a user; errors
    that matter still surface as Python exceptions.
    """
    verbose = level <= logging.DEBUG
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "0" if verbose else "3")
    for noisy in ("tensorflow", "tf2onnx", "h5py", "matplotlib", "PIL"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))
    # Keras warns through absl that HDF5 is a legacy format; .h5 is this product's chosen format.
    logging.getLogger("absl").setLevel(logging.DEBUG if verbose else logging.ERROR)
