"""The whole-plate reader at reading time: a loaded model that turns plate crops into open-alphabet readings."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from config import PLATE_ALPHABET, PlateModelConfig
from plateocr.calibrate import Platt
from plateocr.errors import SetupError
from plateocr.onnxrt import OnnxModel, onnx_path, sidecar_path
from plateocr.platemodel import SlotReading, decode_slots, plate_inputs


def load_plate_sidecar(path: Path) -> tuple[PlateModelConfig, float]:
    """The model's input/output configuration and its calibrated slot temperature.

    Raises:
        SetupError: no sidecar, or one that does not describe a whole-plate reader of our alphabet.
    """
    sidecar = sidecar_path(path)
    if not sidecar.is_file():
        raise SetupError(f"{sidecar}: the whole-plate model has no sidecar; retrain it with `python train_plate.py`")
    try:
        meta = json.loads(sidecar.read_text(encoding="utf-8"))
        if not isinstance(meta, dict) or meta.get("kind") != "plate_reader":
            raise SetupError(f"{sidecar}: not the sidecar of a whole-plate reader")
        if meta.get("alphabet") != "".join(PLATE_ALPHABET):
            raise SetupError(f"{sidecar}: alphabet {meta.get('alphabet')!r} is not {''.join(PLATE_ALPHABET)!r}")
        model_cfg = dict(meta["model"])
        model_cfg["alphabet"] = tuple(model_cfg.get("alphabet", PLATE_ALPHABET))
        model_cfg.setdefault("contrast", "stretch")  # sidecars written before the choice existed
        cfg = PlateModelConfig(**model_cfg)
        cfg.validate()
        temperature = float(meta.get("temperature", 1.0))
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise SetupError(f"{sidecar}: unreadable whole-plate model sidecar ({exc})") from exc
    if not 0.05 <= temperature <= 20.0:
        raise SetupError(f"{sidecar}: implausible temperature {temperature}")
    return cfg, temperature


def load_calibration(plate_model: Path, reader: str) -> Platt:
    """The confidence calibration of reader mode ``reader``, fitted when the whole-plate model was trained.

    The identity when the model, its sidecar or a fit for that mode is missing (a character
    model used alone keeps its raw confidence).
    """
    sidecar = sidecar_path(plate_model)
    try:
        fits = json.loads(sidecar.read_text(encoding="utf-8")).get("calibration", {})
        return Platt(**fits[reader]) if reader in fits else Platt()
    except (OSError, json.JSONDecodeError, AttributeError, TypeError) as exc:
        if Path(plate_model).is_file() and reader != "chars":
            raise SetupError(f"{sidecar}: unreadable calibration ({exc})") from exc
        return Platt()


class WholePlateReader:
    """Plate crops in, one open-alphabet reading per crop out, all crops in one model call."""

    name = "plate"

    def __init__(self, model_path: Path, threads: int | None = None) -> None:
        self.model_path = Path(model_path)
        exported = onnx_path(self.model_path)
        if not exported.is_file():
            if self.model_path.is_file():
                raise SetupError(
                    f"{self.model_path}: no ONNX export beside it ({exported.name}); export it with "
                    f"`python train_plate.py --export-onnx {self.model_path}` (or `make model`)"
                )
            raise SetupError(
                f"{self.model_path}: no whole-plate model found; train one with "
                f"`python train_plate.py --out {self.model_path}` (or `make model`)"
            )
        self.cfg, self.temperature = load_plate_sidecar(self.model_path)
        self.model = OnnxModel(exported, threads)
        expected_in, expected_out = (self.cfg.height, self.cfg.width, self.cfg.channels), (self.cfg.slots, len(self.cfg.alphabet))
        if self.model.input_shape[1:] != expected_in or self.model.output_shape[1:] != expected_out:
            raise SetupError(
                f"{exported}: model shapes {self.model.input_shape} -> {self.model.output_shape} do not match its sidecar"
            )

    def logits(self, crops: list[np.ndarray]) -> np.ndarray:
        """``(n, slots, classes)`` logits of the crops, in one model call."""
        if not crops:
            return np.zeros((0, self.cfg.slots, len(self.cfg.alphabet)), np.float32)
        return self.model.predict(plate_inputs(crops, self.cfg))

    def read(self, crops: list[np.ndarray]) -> list[SlotReading]:
        """One calibrated reading per crop."""
        return decode_slots(self.logits(crops), self.cfg, self.temperature)
