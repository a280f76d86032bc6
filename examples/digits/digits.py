"""The 8x8 digits that ship inside scikit-learn, read straight from the package (no download,
no scikit-learn import), and the tiny network the example trains."""

from __future__ import annotations

import gzip
import importlib.util
from pathlib import Path

import numpy as np


def load(split: str) -> tuple[np.ndarray, np.ndarray]:
    """``train`` (first 1,400 images) or ``test`` (the other 397): inputs in [0, 1], labels."""
    spec = importlib.util.find_spec("sklearn")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("scikit-learn is not installed: pip install 'exptflow[examples]'")
    path = Path(spec.submodule_search_locations[0], "datasets", "data", "digits.csv.gz")
    with gzip.open(path, "rt") as handle:
        data = np.loadtxt(handle, delimiter=",")
    inputs, labels = data[:, :-1] / 16.0, data[:, -1].astype(int)
    return (inputs[:1400], labels[:1400]) if split == "train" else (inputs[1400:], labels[1400:])


def forward(weights: dict[str, np.ndarray], inputs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    hidden = np.maximum(inputs @ weights["w1"] + weights["b1"], 0.0)
    logits = hidden @ weights["w2"] + weights["b2"]
    logits -= logits.max(axis=1, keepdims=True)
    probabilities = np.exp(logits)
    return hidden, probabilities / probabilities.sum(axis=1, keepdims=True)


def accuracy(weights: dict[str, np.ndarray], inputs: np.ndarray, labels: np.ndarray) -> float:
    _, probabilities = forward(weights, inputs)
    return float((probabilities.argmax(axis=1) == labels).mean())
