"""``exptflow init train.py``: a starter sweep file from the script's argparse parser (read
without training), that compiles and whose commands the script accepts; a ``.gitignore``
entry for the output root; never an overwritten file."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from conftest import exptflow

TRAIN = """
import argparse, json, os

print("importing the model code")


def main():
    parser = argparse.ArgumentParser(description="train a model")
    parser.add_argument("data", help="data directory")
    parser.add_argument("--lr", type=float, default="1e-3", help="learning rate")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--optimizer", choices=["sgd", "adam"], default="adam")
    parser.add_argument("--arch", required=True, help="model architecture")
    parser.add_argument("--early-stop", action="store_true", help="stop on a plateau")
    parser.add_argument("--no-cuda", action="store_false", dest="cuda")
    parser.add_argument("--amp", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("-v", "--verbose", action="count", default=0)
    parser.add_argument("-q", action="store_true")
    parser.add_argument("--resume", default=None, help="checkpoint to resume from")
    parser.add_argument("--layers", type=int, nargs="+", default=[64, 64])
    parser.add_argument("--save-dir", default="checkpoints")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--name", default="run # one")
    args = parser.parse_args()
    os.makedirs(args.save_dir, exist_ok=True)
    with open(os.path.join(args.save_dir, "args.json"), "w") as handle:
        json.dump(vars(args), handle)
    open("TRAINED", "a").write("trained\\n")


if __name__ == "__main__":
    main()
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "train.py").write_text(TRAIN)
    return tmp_path


def test_init_writes_a_sweep_from_the_parser_without_training(project: Path) -> None:
    said = exptflow(project, "init", "train.py").stdout
    assert said.splitlines() == [
        "exptflow init: wrote params.yaml from train.py: 12 arguments in the command, 3 left out",
        "  -q: a short flag: add it to the command to pass it",
        "  --resume: no default: add `--resume {resume}` to the command and a value to `default`",
        "  --layers: takes several values (default [64, 64]): write them in the command to pass them",
        "exptflow init: added to .gitignore: output/ .snakemake/",
        "next: edit params.yaml, then `exptflow compile params.yaml --dry-run`",
    ]
    assert not (project / "TRAINED").exists()
    text = (project / "params.yaml").read_text()
    for line in [
        "  data: DATA         # required: set it; data directory",
        "  lr: 0.001          # float; learning rate",
        "  optimizer: adam    # one of: sgd, adam",
        "  early-stop: false  # flag; stop on a plateau",
        "  name: 'run # one'",
        "seed: [1]",
        "# optimizer: [sgd, adam]",
    ]:
        assert line in text.splitlines()
    assert (project / ".gitignore").read_text() == "output/\n.snakemake/\n"


@pytest.mark.slow
def test_the_starter_compiles_and_the_script_accepts_its_commands(project: Path) -> None:
    exptflow(project, "init", "train.py")
    planned = exptflow(project, "compile", "--dry-run").stdout.splitlines()
    assert planned == [
        "train\toutput/seed=1\tpython train.py DATA --lr 0.001 --epochs 10 --optimizer adam "
        "--arch ARCH     --save-dir output/seed=1 --seed 1 --name 'run # one'"
    ]
    sweep = project / "params.yaml"
    sweep.write_text(
        sweep.read_text()
        .replace("# early-stop: [false, true]", "early-stop: [false, true]")
        .replace("  no-amp: false ", "  no-amp: true  ")
    )
    exptflow(project, "run")
    runs = {
        path.parent.name: json.loads(path.read_text())
        for path in (project / "output").glob("*/args.json")
    }
    assert sorted(runs) == ["early-stop=False+seed=1", "early-stop=True+seed=1"]
    args = runs["early-stop=True+seed=1"]
    assert args["early_stop"] is True and args["amp"] is False and args["cuda"] is True
    assert (args["data"], args["arch"], args["lr"], args["layers"]) == (
        "DATA",
        "ARCH",
        0.001,
        [64, 64],
    )
    assert args["name"] == "run # one" and args["save_dir"] == "output/early-stop=True+seed=1"
    assert runs["early-stop=False+seed=1"]["early_stop"] is False


def test_an_existing_sweep_file_is_never_overwritten(project: Path) -> None:
    (project / "params.yaml").write_text("mine\n")
    (project / ".gitignore").write_text("/output\n*.pyc")
    refused = exptflow(project, "init", "train.py", check=False)
    assert refused.returncode == 2
    assert refused.stderr == (
        "error: params.yaml exists; exptflow init never overwrites a file: write the starter "
        "elsewhere with `exptflow init train.py --out other.yaml`\n"
    )
    assert (project / "params.yaml").read_text() == "mine\n"
    assert (project / ".gitignore").read_text() == "/output\n*.pyc"

    said = exptflow(project, "init", "train.py", "--out", "other.yaml").stdout
    assert "exptflow init: added to .gitignore: .snakemake/" in said.splitlines()
    assert (project / ".gitignore").read_text() == "/output\n*.pyc\n.snakemake/\n"
    exptflow(project, "compile", "other.yaml", "--dry-run")
    again = exptflow(project, "init", "train.py", "--out", "other.yaml", check=False)
    assert again.returncode == 2 and "error: other.yaml exists;" in again.stderr


def script(project: Path, body: str) -> None:
    (project / "train.py").write_text(textwrap.dedent(body))


@pytest.mark.parametrize(
    ("body", "message"),
    [
        pytest.param(
            "import sys\nprint(sys.argv)\n",
            "error: train.py: ran to the end without calling argparse's parse_args; exptflow "
            "init reads the argparse parser of a script (write params.yaml by hand for other "
            "scripts)\n",
            id="no-parser",
        ),
        pytest.param(
            "import argparse\nraise ImportError('no module named torch')\n",
            "error: train.py: exited with code 1 before parsing its arguments (ImportError: no "
            "module named torch); fix the script so that `python train.py --help` works, then "
            "run exptflow init again\n",
            id="crashes-first",
        ),
    ],
)
def test_a_script_without_a_parser_is_a_clear_error(project: Path, body: str, message: str) -> None:
    script(project, body)
    refused = exptflow(project, "init", "train.py", check=False)
    assert (refused.returncode, refused.stderr) == (2, message)
    assert not (project / "params.yaml").exists() and not (project / ".gitignore").exists()


def test_a_script_that_trains_before_parsing_is_stopped(project: Path) -> None:
    script(project, "import time\nwhile True:\n    time.sleep(0.1)\n")
    refused = exptflow(project, "init", "train.py", "--timeout", "1", check=False)
    assert refused.returncode == 2
    assert refused.stderr == (
        "error: train.py: ran 1 s without parsing its arguments; exptflow init reads the "
        "parser an argparse script builds before it trains (give it longer with --timeout "
        "SECONDS)\n"
    )


def test_a_script_without_arguments_still_gives_a_valid_sweep(project: Path) -> None:
    script(project, "import argparse\nargparse.ArgumentParser().parse_args()\n")
    exptflow(project, "init", "train.py")
    planned = exptflow(project, "compile", "--dry-run").stdout
    assert planned == "train\toutput/seed=0\tpython train.py\n"


def test_a_missing_script_is_named(project: Path) -> None:
    refused = exptflow(project, "init", "trian.py", check=False)
    assert (refused.returncode, refused.stderr) == (
        2,
        "error: trian.py: no such file; give the training script to read\n",
    )


def test_subcommands_are_named_as_not_passed(project: Path) -> None:
    script(
        project,
        """
        import argparse
        parser = argparse.ArgumentParser()
        parser.add_argument("--lr", type=float, default=0.1)
        commands = parser.add_subparsers(dest="command")
        commands.add_parser("fit").add_argument("--epochs", type=int, default=3)
        parser.parse_args()
        """,
    )
    said = exptflow(project, "init", "train.py").stdout
    assert "  (subcommands): sub-commands: add the one to run to the command" in said
    planned = exptflow(project, "compile", "--dry-run").stdout
    assert planned == "train\toutput/lr=0.1\tpython train.py --lr 0.1\n"


def test_the_grid_sweeps_a_value_the_script_gave_not_a_stand_in(project: Path) -> None:
    script(
        project,
        """
        import argparse
        parser = argparse.ArgumentParser()
        parser.add_argument("data")
        parser.add_argument("--fast", action="store_true")
        parser.add_argument("--lr", type=float, default=0.1)
        parser.parse_args()
        """,
    )
    exptflow(project, "init", "train.py")
    grid = (project / "params.yaml").read_text().split("---\n")[-1].splitlines()
    assert grid[1:] == ["lr: [0.1]", "# data: [DATA]", "# fast: [false, true]"]
    planned = exptflow(project, "compile", "--dry-run").stdout
    assert planned == "train\toutput/lr=0.1\tpython train.py DATA  --lr 0.1\n"
