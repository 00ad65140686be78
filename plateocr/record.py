"""The per-image result every layer shares: the readers fill it, the outputs write it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from plateocr.plates import Box


@dataclass
class ImageResult:
    """Everything known about one image's reading."""

    name: str
    path: Path
    text: str = ""
    confidence: float = 0.0
    char_probs: tuple[float, ...] = ()
    box: Box | None = None
    source: str = ""
    seconds: float = 0.0
    error: str = ""
    # What the open-alphabet reader saw, and the format it decided (spanish, foreign, none).
    raw_text: str = ""
    format: str = ""
    extra: dict[str, object] = field(default_factory=dict)
    # The image's name in the outputs: ``name``, or a relative path when two images share a stem.
    output_name: str = ""

    def withhold_below(self, threshold: float) -> None:
        """Leave the reading empty when its confidence is below ``threshold``; keep it as ``uncertain_reading``."""
        if self.text and self.confidence < threshold:
            self.extra["uncertain_reading"] = self.text
            self.text = ""
