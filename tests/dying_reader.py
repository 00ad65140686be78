"""A reader whose worker process dies as the system kills one (SIGKILL), for the tests of ``--jobs``.

Its own module, so that the worker processes ('spawn') can import it by name.
"""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from plateocr.batch import ReaderSpec


@dataclass(frozen=True)
class DyingSpec(ReaderSpec):
    """Loads the real reader; its process is killed when it reads an image named in ``die`` (all: every image)."""

    die: tuple[str, ...] = ()

    def load(self, threads: int | None = None) -> Any:
        return DyingReader(super().load(threads), self.die)


class DyingReader:
    def __init__(self, reader: Any, die: tuple[str, ...]) -> None:
        self.reader, self.die = reader, die

    def read_image(self, path: Path, labels: Path | None) -> Any:
        if "all" in self.die or Path(path).stem in self.die:
            os.kill(os.getpid(), signal.SIGKILL)
        return self.reader.read_image(path, labels)
