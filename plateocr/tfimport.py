"""Importing TensorFlow without its native start-up banner on the user's terminal."""

from __future__ import annotations

import logging
import os
import sys
import tempfile


def import_tensorflow_quietly() -> None:
    """Import TensorFlow with its native start-up banner (oneDNN, absl) kept off the terminal.

    The banner is written by C++ code straight to file descriptor 2, before any
    Python logging applies. What it wrote is shown after all if the import fails,
    and nothing is hidden when the root logger is at DEBUG (``--verbose``).
    """
    if "tensorflow" in sys.modules or logging.getLogger().isEnabledFor(logging.DEBUG):
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
