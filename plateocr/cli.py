"""Pieces shared by the command-line scripts: logging set-up and exit codes."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile

EXIT_OK = 0
EXIT_SOME_FAILED = 1
EXIT_SETUP = 2


def add_verbosity(parser: argparse.ArgumentParser) -> None:
    """``--verbose`` / ``--quiet`` flags."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument("-v", "--verbose", action="store_true", help="log diagnostics (DEBUG level)")
    group.add_argument("-q", "--quiet", action="store_true", help="only errors and the results")


def setup_logging(args: argparse.Namespace) -> None:
    """Configure the root logger from ``--verbose`` / ``--quiet`` and quieten TensorFlow."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    level = logging.DEBUG if args.verbose else logging.WARNING if args.quiet else logging.INFO
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", force=True)
    for noisy in ("tensorflow", "absl", "h5py", "matplotlib", "PIL"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))
    if not args.verbose:
        import_tensorflow_quietly()


def import_tensorflow_quietly() -> None:
    """Import TensorFlow with its native start-up banner (oneDNN, absl) kept off the terminal.

    The banner is written by C++ code straight to file descriptor 2, before any
    Python logging applies. What it wrote is shown after all if the import fails.
    """
    if "tensorflow" in sys.modules:
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            import tensorflow  # noqa: F401
        except BaseException:
            os.dup2(saved, 2)
            sink.seek(0)
            sys.stderr.write(sink.read().decode("utf-8", "replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)
