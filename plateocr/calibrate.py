"""Confidence that means what it says: a logistic map from a reader's raw confidence to P(right).

Each reader mode's raw confidence (the string probability of the arbitrated reading, or the
Chars74K port's lowest character probability) ranks readings well but is not a probability of
being right. A two-parameter logistic fit (Platt scaling) on held-out generated plates, read by the
trained models themselves, turns it into one; the parameters are saved in the whole-plate model's
sidecar, with the character model they were fitted with.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

_EPS = 1e-6


@dataclass(frozen=True)
class Platt:
    """``P(right) = sigmoid(a * logit(raw) + b)``; the identity is ``a=1, b=0``."""

    a: float = 1.0
    b: float = 0.0

    def __call__(self, raw: float) -> float:
        if raw <= 0.0:
            return 0.0
        z = self.a * _logit(raw) + self.b
        return 1.0 / (1.0 + math.exp(-z)) if z > -700 else 0.0


def _logit(p: float | np.ndarray) -> float | np.ndarray:
    p = np.clip(p, _EPS, 1.0 - _EPS)
    return np.log(p) - np.log1p(-p)


def fit_platt(raw: np.ndarray, right: np.ndarray, iterations: int = 50) -> Platt:
    """Maximum-likelihood logistic fit of ``right`` (bool) on ``logit(raw)`` by Newton's method.

    A small ridge keeps the fit finite when every reading is right (or wrong); with fewer than
    two of either the identity is returned.
    """
    raw, right = np.asarray(raw, float), np.asarray(right, float)
    if right.sum() < 2 or (1 - right).sum() < 2:
        return Platt()
    x = np.stack([_logit(raw), np.ones_like(raw)], axis=1)
    w = np.array([1.0, 0.0])
    ridge = 1e-3 * np.eye(2)
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-np.clip(x @ w, -50, 50)))
        gradient = x.T @ (p - right) + ridge @ w
        hessian = (x * (p * (1 - p))[:, None]).T @ x + ridge
        step = np.linalg.solve(hessian, gradient)
        w = w - step
        if np.abs(step).max() < 1e-8:
            break
    return Platt(float(w[0]), float(w[1]))


def reliability(confidence: np.ndarray, right: np.ndarray, bins: int = 10) -> list[tuple[float, float, int]]:
    """Per confidence bin: mean confidence, share right, and count (empty bins left out)."""
    confidence, right = np.asarray(confidence, float), np.asarray(right, float)
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = np.clip(np.digitize(confidence, edges[1:-1]), 0, bins - 1)
    return [
        (float(confidence[index == k].mean()), float(right[index == k].mean()), int((index == k).sum()))
        for k in range(bins)
        if np.any(index == k)
    ]


def expected_calibration_error(confidence: np.ndarray, right: np.ndarray, bins: int = 10) -> float:
    """The count-weighted mean gap between confidence and accuracy over the bins."""
    table = reliability(confidence, right, bins)
    total = sum(n for _, _, n in table)
    return sum(n * abs(c - r) for c, r, n in table) / max(total, 1)
