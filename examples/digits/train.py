"""Train with minibatch SGD; save ``checkpoint<epoch>.npz`` after every epoch."""

from __future__ import annotations

import argparse
from pathlib import Path

import digits
import numpy as np

import exptflow


def gradients(weights, inputs, labels, weight_decay):
    hidden, probabilities = digits.forward(weights, inputs)
    error = probabilities
    error[np.arange(len(labels)), labels] -= 1.0
    error /= len(labels)
    back = (error @ weights["w2"].T) * (hidden > 0)
    return {
        "w2": hidden.T @ error + weight_decay * weights["w2"],
        "b2": error.sum(axis=0),
        "w1": inputs.T @ back + weight_decay * weights["w1"],
        "b1": back.sum(axis=0),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--lr", type=float, required=True)
    parser.add_argument("--hidden", type=int, required=True)
    parser.add_argument("--epochs", type=int, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--weight-decay", type=float, default=0.0)
    args = parser.parse_args()

    inputs, labels = digits.load("train")
    rng = np.random.default_rng(args.seed)
    weights = {
        "w1": rng.normal(0, (2 / inputs.shape[1]) ** 0.5, (inputs.shape[1], args.hidden)),
        "b1": np.zeros(args.hidden),
        "w2": rng.normal(0, (1 / args.hidden) ** 0.5, (args.hidden, 10)),
        "b2": np.zeros(10),
    }
    for epoch in range(1, args.epochs + 1):
        order = rng.permutation(len(labels))
        for start in range(0, len(order), 32):
            batch = order[start : start + 32]
            for name, grad in gradients(
                weights, inputs[batch], labels[batch], args.weight_decay
            ).items():
                weights[name] -= args.lr * grad
        train_accuracy = digits.accuracy(weights, inputs, labels)
        _, probabilities = digits.forward(weights, inputs)
        loss = float(-np.log(probabilities[np.arange(len(labels)), labels] + 1e-12).mean())
        np.savez(Path(args.out, f"checkpoint{epoch}.npz"), **weights)
        exptflow.log(step=epoch, loss=loss, train_accuracy=train_accuracy)  # series for curves
        print(f"epoch {epoch} loss {loss:.4f} train_accuracy {train_accuracy:.4f}", flush=True)


if __name__ == "__main__":
    main()
