"""The training report written beside a model: learning curves, confusion matrix, per-class accuracy.

Figures are drawn with Matplotlib's object API on the Agg canvas (no display, no global pyplot state)
and, like every output, written to a temporary file and renamed.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from config import CLASSES
from plateocr.results import write_text_atomic, write_with

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from plateocr.platetrain import PlateTrainResult
    from plateocr.train import TrainResult


def report_paths(model_path: Path) -> dict[str, Path]:
    """Where the report of ``models/x.h5`` goes: ``x_curves.png``, ``x_confusion.png``, ``x_per_class.csv``."""
    model_path = Path(model_path)
    stem = model_path.parent / model_path.stem
    return {
        "curves": Path(f"{stem}_curves.png"),
        "confusion": Path(f"{stem}_confusion.png"),
        "per_class": Path(f"{stem}_per_class.csv"),
    }


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, classes: int = len(CLASSES)) -> np.ndarray:
    """Counts: row = true class, column = predicted class."""
    matrix = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(matrix, (np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, dtype=np.int64)), 1)
    return matrix


def per_class_csv(matrix: np.ndarray, labels: Sequence[str] = CLASSES) -> str:
    """One row per class: samples, correct, accuracy and the class it is most often mistaken for."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["class", "samples", "correct", "accuracy", "most_confused_with", "confused_count"])
    for index, char in enumerate(labels[: len(matrix)]):
        row = matrix[index]
        samples, correct = int(row.sum()), int(row[index])
        others = row.copy()
        others[index] = 0
        worst = int(np.argmax(others))
        confused = int(others[worst])
        writer.writerow([
            char, samples, correct, f"{correct / samples:.4f}" if samples else "",
            labels[worst] if confused else "", confused,
        ])  # fmt: skip
    return out.getvalue()


def curves_figure(history: dict[str, list[float]]) -> Figure:
    """Loss and accuracy per epoch, training and validation, with the best validation loss marked."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 3.2), dpi=100, layout="constrained")
    axes = fig.subplots(1, 2)
    for ax, metric, title in ((axes[0], "loss", "loss"), (axes[1], "accuracy", "accuracy")):
        for key, label in ((metric, "training"), (f"val_{metric}", "validation")):
            values = history.get(key, [])
            if values:
                ax.plot(range(1, len(values) + 1), values, marker="o", markersize=3, label=label)
        ax.set_title(title)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend()
    val_loss = history.get("val_loss", [])
    if val_loss:
        best = int(np.argmin(val_loss)) + 1
        for ax in axes:
            ax.axvline(best, color="grey", linestyle="--", linewidth=1)
        axes[0].annotate(f"kept: epoch {best}", (best, val_loss[best - 1]), textcoords="offset points", xytext=(5, 10))
    return fig


def confusion_figure(matrix: np.ndarray, labels: Sequence[str] = CLASSES) -> Figure:
    """The confusion matrix, each row normalised to the share of its true class."""
    from matplotlib.figure import Figure

    totals = matrix.sum(axis=1, keepdims=True)
    shares = np.divide(matrix, totals, out=np.zeros(matrix.shape, dtype=float), where=totals > 0)
    labels = labels[: len(matrix)]
    fig = Figure(figsize=(6.4, 5.6), dpi=100, layout="constrained")
    ax = fig.subplots()
    image = ax.imshow(shares, cmap="Blues", vmin=0.0, vmax=1.0)
    ax.set_xticks(range(len(labels)), labels, fontsize=7)
    ax.set_yticks(range(len(labels)), labels, fontsize=7)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    accuracy = np.trace(matrix) / max(1, matrix.sum())
    ax.set_title(f"validation confusion (row share), accuracy {accuracy:.1%}")
    fig.colorbar(image, ax=ax, shrink=0.8)
    return fig


def save_figure(path: Path, fig: Figure) -> None:
    """Write ``fig`` as a PNG, atomically."""
    write_with(path, lambda tmp: fig.savefig(tmp, format="png"))


def write_training_report(result: TrainResult) -> dict[str, Path]:
    """Write the curves, the confusion matrix and the per-class CSV beside ``result.model_path``.

    Returns:
        The files written, by kind (the confusion files need the validation predictions).
    """
    paths = report_paths(result.model_path)
    save_figure(paths["curves"], curves_figure(result.history))
    written = {"curves": paths["curves"]}
    if result.val_labels is not None and result.val_predictions is not None:
        matrix = confusion_matrix(result.val_labels, result.val_predictions)
        save_figure(paths["confusion"], confusion_figure(matrix))
        write_text_atomic(paths["per_class"], per_class_csv(matrix))
        written.update(confusion=paths["confusion"], per_class=paths["per_class"])
    return written


def write_plate_report(result: PlateTrainResult) -> dict[str, Path]:
    """The whole-plate reader's report: curves, and the per-character confusion of its validation slots.

    The pad (``_``) is a class like the others: a character read as pad is a dropped character.
    """
    from config import PLATE_ALPHABET

    paths = report_paths(result.model_path)
    save_figure(paths["curves"], curves_figure(result.history))
    matrix = confusion_matrix(result.val_targets.ravel(), result.val_predictions.ravel(), len(PLATE_ALPHABET))
    save_figure(paths["confusion"], confusion_figure(matrix, PLATE_ALPHABET))
    write_text_atomic(paths["per_class"], per_class_csv(matrix, PLATE_ALPHABET))
    return paths
