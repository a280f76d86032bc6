"""Evaluate a model on the held-out digits; print the metric and write ``metrics.json``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import digits
import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--model", required=True)
    args = parser.parse_args()

    inputs, labels = digits.load("test")
    weights = dict(np.load(args.model))
    accuracy = digits.accuracy(weights, inputs, labels)
    print(f"test_accuracy = {accuracy:.4f}")
    Path(args.out, "metrics.json").write_text(json.dumps({"test_accuracy": accuracy}) + "\n")


if __name__ == "__main__":
    main()
