"""Every file exptflow reads or writes, in one place (like submitit's ``JobPaths``).

Kept free of heavy imports: the job wrapper uses it in every job.
"""

from __future__ import annotations

import os
from pathlib import Path

META = ".exptflow"
# Shared stages' jobs: <output>/_shared/<stage>/<key>/, laid out as an experiment directory.
SHARED = "_shared"
# What an output root holds besides experiment directories.
NOT_EXPERIMENTS = frozenset({META, SHARED})


def shared_directory(stage: str, name: str) -> str:
    """The directory of one job of a shared stage, relative to the output root."""
    return f"{SHARED}/{stage}/{name}"


class ExperimentPaths:
    """The files of one experiment directory ``<output>/<name>``."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.root = os.fspath(directory)  # status and collect read 10,000s: strings are faster
        self.directory = Path(self.root)

    @classmethod
    def of(cls, output: str | os.PathLike[str], name: str) -> ExperimentPaths:
        return cls(f"{os.fspath(output)}/{name}")

    @property
    def metrics(self) -> str:
        """A flat JSON object of metrics the user's program may write."""
        return f"{self.root}/metrics.json"

    @property
    def series(self) -> str:
        """``exptflow.log``: one JSON point per line, appended."""
        return f"{self.root}/metrics.jsonl"

    @property
    def summary(self) -> str:
        """``exptflow.summary``: final values, merged and replaced atomically."""
        return f"{self.root}/summary.json"

    def checkpoint(self, stage: str | None) -> Path:
        """``exptflow.checkpoint.save``: a stage's latest training state, replaced atomically."""
        return self.directory / (f"checkpoint.{stage}.pkl" if stage else "checkpoint.pkl")

    @property
    def artifacts(self) -> Path:
        """``exptflow.artifact``: files a stage keeps (plots, models, predictions)."""
        return self.directory / "artifacts"

    @property
    def name(self) -> str:
        return self.directory.name

    @property
    def params(self) -> Path:
        """The fully resolved params: the experiment's identity."""
        return Path(self.params_file)

    @property
    def params_file(self) -> str:
        return f"{self.root}/params.json"

    @property
    def meta(self) -> Path:
        return self.directory / META

    @property
    def meta_file(self) -> str:
        """``meta`` as a string: the collector stats it for 10,000s of experiments."""
        return f"{self.root}/{META}"

    def record(self, stage: str) -> Path:
        """State, timings, host, slot and command of the stage's latest run."""
        return Path(self.record_file(stage))

    def record_file(self, stage: str) -> str:
        return f"{self.meta_file}/stage.{stage}.json"

    def stage_lock(self, stage: str) -> Path:
        """Held (``flock``) by every process of the stage's run: no second copy starts."""
        return self.meta / f"stage.{stage}.lock"

    def killed_marker(self, stage: str) -> Path:
        """Written by the stage's reaper when whatever supervised the stage died."""
        return self.meta / f"stage.{stage}.killed"

    @property
    def cancel_request(self) -> Path:
        """``exptflow cancel`` asks the live run (its Snakemake's pid) to stop the experiment."""
        return self.meta / "cancel.json"

    def stage_directory(self, stage: str) -> Path:
        """``{_output}/<stage>``: what a cached stage (``cache: true``) makes, and what the
        output cache stores and restores."""
        return self.directory / stage

    def done(self, stage: str) -> Path:
        """Written only after the stage exits 0: the file Snakemake waits for."""
        return self.meta / f"{stage}.done"

    def done_file(self, stage: str) -> str:
        """``done`` as the Snakefile spells it (``./output/...`` stays so)."""
        return f"{self.meta_file}/{stage}.done"

    @classmethod
    def of_done(cls, path: Path) -> tuple[ExperimentPaths, str] | None:
        """The experiment and stage whose ``done`` file ``path`` is; None if it is none."""
        if path.parent.name != META or path.suffix != ".done":
            return None
        return cls(path.parent.parent), path.stem

    @property
    def history(self) -> Path:
        """One JSON line per finished stage run, never rewritten."""
        return self.meta / "history.jsonl"

    def log(self, stage: str, started: str) -> Path:
        """mlrunner's naming: ``log.<stage>.<YYYYmmdd.HHMMSS>``."""
        return self.directory / f"log.{stage}.{started}"

    def latest_log(self, stage: str) -> Path:
        """A link to the stage's latest log: the rule's ``log:``, a name that does not change."""
        return self.meta / f"{stage}.log"

    def logs(self, stage: str) -> list[Path]:
        """Every log of ``stage``, oldest first."""
        return sorted(self.directory.glob(f"log.{stage}.*"))

    def records(self) -> list[Path]:
        return sorted(self.meta.glob("stage.*.json"))

    def recorded_stages(self) -> list[str]:
        """The stages that have a record, from the records' names."""
        return [path.name[len("stage.") : -len(".json")] for path in self.records()]


class SweepPaths:
    """The files of a compiled sweep, relative to the directory it was compiled in."""

    def __init__(self, workdir: str | os.PathLike[str] = ".", output: str = "output") -> None:
        self.workdir = Path(workdir)
        self.output_name = output

    @property
    def snakefile(self) -> Path:
        return self.workdir / "Snakefile"

    @property
    def table(self) -> Path:
        """The experiments table the generated Snakefile reads."""
        return self.workdir / "experiments.json"

    @property
    def profiles(self) -> Path:
        return self.workdir / "profiles"

    def profile(self, name: str) -> Path:
        return self.profiles / name / "config.v8+.yaml"

    @property
    def output(self) -> Path:
        return self.workdir / self.output_name

    def experiment(self, name: str) -> ExperimentPaths:
        return ExperimentPaths.of(self.output, name)

    @property
    def outputs(self) -> OutputPaths:
        return OutputPaths(self.output)


class _File:
    """A path under an object's ``root``: ``results = _File("results.tsv")``."""

    def __init__(self, *parts: str) -> None:
        self.parts = parts

    def __get__(
        self, paths: OutputPaths | RunPaths | StudyPaths | None, owner: type | None = None
    ) -> Path:
        if paths is None:  # the class's attribute itself
            return self  # type: ignore[return-value]
        return paths.root.joinpath(*self.parts)


class OutputPaths:
    """The files of an experiments root that belong to no one experiment."""

    results = _File("results.tsv")  # the collector's table: one row per experiment
    meta = _File(META)
    collect_log = _File(META, "collect.log")  # what the collector said last
    collect_cache = _File(META, "collect-cache.json")  # rows valid while their files are unchanged
    runs = _File(META, "runs")  # one folder per `snakemake` run with its provenance
    archive = _File(META, "archive")  # where `exptflow clean --yes` moves stale experiments
    studies = _File(META, "tune")  # one folder per search space `exptflow tune` searched
    report_pages = _File(META, "report", "pages")  # `exptflow report`: results and stages pages
    report_plots = _File(META, "report", "plots")  # `exptflow report`: the recorded plots, redrawn
    report_log = _File(META, "report", "pages.log")  # what making the pages said
    plot_specs = _File(META, "plots")  # one JSON file per plot `exptflow plot` drew
    snapshots = _File(META, "code")  # `code: snapshot`: one copy of the code per commit

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def run(self, run_id: str) -> Path:
        return self.runs / run_id

    def archived(self, stamp: str) -> Path:
        """One ``exptflow clean --yes``: the experiment directories it moved, intact."""
        return self.archive / stamp

    def study(self, fingerprint: str) -> StudyPaths:
        return StudyPaths(self.studies / fingerprint)

    def snapshot(self, name: str) -> Path:
        """The code of one commit (``<sha>``, or ``<sha>+<diff hash>`` with the uncommitted
        diff), as ``git archive`` gives it: the stages of a snapshot run start in it."""
        return self.snapshots / name

    def detached_log(self, stamp: str) -> Path:
        """Output of a run started with ``exptflow run --detach``."""
        return self.meta / "detached" / f"{stamp}.log"


class RunPaths:
    """The provenance files of one ``snakemake`` run."""

    git = _File("git.json")  # commit, message, branch, dirty
    diff = _File("uncommitted.patch")
    untracked = _File("untracked.txt")
    environment = _File("environment.json")  # Python, platform, packages
    overrides = _File("overrides.json")  # the `-S` of the compile this run ran
    snakemake_log = _File("snakemake.log")  # what Snakemake printed, under `exptflow run`

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.root = self.directory = Path(directory)

    def sweep_copy(self, source: str) -> Path:
        return self.directory / Path(source).name


class StudyPaths:
    """The files of one adaptive search: its settings, and two files per trial (the values
    proposed, then what was told). The experiments hold the results: these hold the order."""

    settings = _File("study.json")  # the search block and space it was made for
    tune_log = _File("tune.log")  # each trial told, and the best so far
    lock = _File("suggest.lock")  # held to tell or propose: one process at a time

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def proposal(self, number: int | str) -> Path:
        return self.root / f"trial-{number}.json"

    def proposed(self, size: int, batch: int | str) -> Path:
        """The mark Snakemake waits for: a batch of ``size`` trials proposed (the proposals
        themselves are never Snakemake's outputs)."""
        return self.root / f"batch{size}-{batch}.proposed"

    def told(self, number: int | str) -> Path:
        return self.root / f"trial-{number}.told.json"

    def all_told(self, size: int, parity: int | str) -> Path:
        """The mark that every other batch (the even ones or the odd ones) was proposed,
        up to two past the budget, whose jobs tell the last trials."""
        return self.root / f"batches{size}-{parity}.told"

    def all_told_log(self, size: int, parity: int | str) -> Path:
        return self.root / f"batches{size}-{parity}.log"

    def batch_lock(self, size: int, batch: int | str) -> Path:
        """Held by the ``exptflow tune`` that will propose the batch: its job waits for it."""
        return self.root / f"batch{size}-{batch}.lock"

    def batch_log(self, size: int, batch: int | str) -> Path:
        """What the job that proposed a batch said."""
        return self.root / f"batch{size}-{batch}.log"

    def numbers(self) -> list[int]:
        """The trials proposed so far, in order."""
        found = []
        for entry in existing_files(self.root):
            middle = entry.removeprefix("trial-").removesuffix(".json")
            if entry.startswith("trial-") and middle.isdigit():
                found.append(int(middle))
        return sorted(found)


def existing_files(directory: str | os.PathLike[str]) -> list[str]:
    try:
        return [entry.name for entry in os.scandir(directory) if entry.is_file()]
    except (FileNotFoundError, NotADirectoryError):
        return []


def gpu_lock_dir() -> Path:
    """Shared by every sweep of this machine, so sweeps sharing GPUs never share a slot."""
    return Path(os.environ.get("EXPTFLOW_LOCK_DIR", "/tmp/exptflow-gpu-locks"))


def output_cache_dir() -> Path:
    """Snakemake's between-workflow cache (``SNAKEMAKE_OUTPUT_CACHE``), shared by every sweep of
    this user: by default under the user's cache directory."""
    given = os.environ.get("SNAKEMAKE_OUTPUT_CACHE")
    if given:
        return Path(given)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "exptflow" / "snakemake-output-cache"


def existing_directories(output: str | os.PathLike[str]) -> set[str]:
    """Names of the directories directly under ``output`` (none if it does not exist)."""
    try:
        return {entry.name for entry in os.scandir(output) if entry.is_dir()}
    except (FileNotFoundError, NotADirectoryError):
        return set()
