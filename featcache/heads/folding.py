"""Standardization folded into a linear layer, and back.

``coef @ ((x - mean) / scale) + intercept`` equals ``(coef / scale) @ x +
(intercept - (coef / scale) @ mean)``: one Dense layer on raw features. Export,
fine-tuning and warm starts all move a linear head across standardizations.
"""

from __future__ import annotations

import numpy as np


def to_raw(coef: np.ndarray, intercept: np.ndarray, mean: np.ndarray, scale: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(coef (K, D), intercept (K,))`` on standardized inputs -> the same on raw inputs (float64)."""
    w = np.asarray(coef, np.float64) / np.asarray(scale, np.float64)
    return w, np.asarray(intercept, np.float64) - w @ np.asarray(mean, np.float64)


def from_raw(coef: np.ndarray, intercept: np.ndarray, mean: np.ndarray, scale: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The inverse of ``to_raw``: raw-input coefficients for inputs standardized by ``mean`` and ``scale``."""
    w = np.asarray(coef, np.float64)
    return w * np.asarray(scale, np.float64), np.asarray(intercept, np.float64) + w @ np.asarray(mean, np.float64)
