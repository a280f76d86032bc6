"""Average the weights of the last k checkpoints into ``averaged.npz``."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--last", type=int, required=True)
    args = parser.parse_args()

    def epoch(path: Path) -> int:
        return int(re.search(r"(\d+)\.npz$", path.name).group(1))

    checkpoints = sorted(Path(args.out).glob("checkpoint*.npz"), key=epoch)[-args.last :]
    if not checkpoints:
        raise SystemExit(f"no checkpoint in {args.out}")
    loaded = [np.load(path) for path in checkpoints]
    averaged = {name: np.mean([c[name] for c in loaded], axis=0) for name in loaded[0].files}
    np.savez(Path(args.out, "averaged.npz"), **averaged)
    print("averaged", ", ".join(path.name for path in checkpoints))


if __name__ == "__main__":
    main()
