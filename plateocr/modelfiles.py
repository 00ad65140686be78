"""Where a trained model's files lie (light: reading needs it without importing the trainers)."""

from __future__ import annotations

from pathlib import Path


def sidecar_path(model_path: Path) -> Path:
    """The JSON file saved beside a model: class map, preprocessing, provenance."""
    return Path(model_path).with_suffix(".json")
