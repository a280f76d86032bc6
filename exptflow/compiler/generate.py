"""Text of the generated files, from the templates shipped in ``workflow/`` and ``profiles/``.

Pure: compile decides where the text goes.
"""

from __future__ import annotations

import hashlib
import json
import shlex
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from string import Template

from exptflow import __version__
from exptflow.compiler.plan import Plan
from exptflow.layout.paths import SHARED, ExperimentPaths, OutputPaths
from exptflow.sweep.spec import Stage, rule_name

GENERATED_MARK = "# exptflow-generated sha256="


def template(package: str, name: str) -> Template:
    return Template(resources.files(package).joinpath(name).read_text(encoding="utf-8"))


def _around_stage(path: Callable[[ExperimentPaths, str], Path]) -> tuple[str, str]:
    """What surrounds the stage name in a path of an experiment's directory."""
    before, after = path(ExperimentPaths(""), "\0").as_posix().split("\0")
    return before, after


def _directives(stage: Stage, has_slots: bool, remaining: int, tune: bool = False) -> str:
    resources_: dict[str, int | str] = {}
    if has_slots and stage.uses_gpu:
        resources_["gpu_slot"] = 1
    if tune:  # `exptflow tune`: a stage of a trial holds one of its `parallel` trials
        resources_["tune_trial"] = 1
    if stage.gpus:
        resources_["gpu"] = stage.gpus
    resources_.update(stage.resources)
    # Earlier stages first: starting every experiment's chain early keeps all GPU slots busy
    # to the end (depth-first left half the slots idle for the last stages of a sweep).
    lines = [f"    priority: {remaining}"]
    if has_slots and stage.uses_gpu:
        lines.append("    threads: GPU_STAGE_THREADS")
    if resources_:
        lines.append("    resources:")
        lines += [f"        {key}={value!r}," for key, value in resources_.items()]
    if stage.retries:
        lines.append(f"    retries: {stage.retries}")
    if stage.pack:  # packed into one cluster submission by the profiles' group-components
        lines.append(f'    group: "{pack_group(stage.name)}"')
    if stage.cache:  # exptflow deploys no software: the command and its inputs are the key
        lines.append('    cache: "omit-software"')
    return "".join(line + "\n" for line in lines)


# The text of a `run:` block is part of Snakemake's `code` rerun trigger: changing it reruns
# every finished stage of every sweep compiled before. Keep it as it is.
IN_PROCESS = (
    "    run:\n"
    "        run_stage(wildcards.experiment, {stage}, params.command, threads, resources, "
    "gpu={gpu}{limit})\n"
)
SHARED_IN_PROCESS = (
    "    run:\n"
    "        run_shared(wildcards.key, {stage}, params.command, threads, resources, "
    "gpu={gpu}{limit})\n"
)
# The process form names only the rule's own values in its text (what `snakemake --lint`
# asks): this Python and the GPU slots come through the environment, so the text, a rerun
# trigger, stays the same when they change.
AS_PROCESS = """    conda:
        current_environment
    shell:
        {first}
        {second}
"""
# The shared stage that comes before a stage in an experiment: one of its jobs.
AFTER_SHARED = """        shared = EXPERIMENTS[wildcards.experiment].get("shared", {})
        if stages[position - 1] in shared:
            return shared_done(shared[stages[position - 1]], stages[position - 1])
"""
OWN_STAGES = """
    if stage not in experiment.get("shared", {})"""
SHARED_TARGETS = """
# Each job of a shared stage once.
ALL_DONE += [shared_done(key, stage) for stage, jobs in SHARED.items() for key in jobs]"""
# Only sweeps with packed stages carry the process form of the wrapper.
PROCESS_FORM = """# Stages packed into one cluster submission (`pack`) run the wrapper as a process:
# inside a group job Snakemake would start a whole Snakemake for each `run:` member.
os.environ.update(EXPTFLOW_PYTHON=sys.executable, EXPTFLOW_SLOTS=json.dumps(SLOTS))
"""
# A cached stage's outputs: the cache stores and restores all three, so a stage taken from the
# cache has its results, its record (of the run that made them) and its `.done`. Its action
# is an uncached stage's (the wrapper makes its directory): turning `cache` on reruns nothing.
# `done` last: Snakemake links a cached job's files in this order, and `.done` says the rest
# is there (`exptflow tune` reads a trial's results the moment it appears).
CACHED_OUTPUTS = """        record=stage_record("{{experiment}}", {stage}),
        result=directory(stage_directory("{{experiment}}", {stage})),
        done=done("{{experiment}}", {stage}),
"""
CACHED_SHARED_OUTPUTS = """        record=stage_record({job}, {stage}),
        result=directory(stage_directory({job}, {stage})),
        done=shared_done("{{key}}", {stage}),
"""
CACHE_LOCATION = """# Stages with `cache: true` share results between sweeps through Snakemake's
# output cache (the profile's `cache`): in $SNAKEMAKE_OUTPUT_CACHE, by default under
# ~/.cache/exptflow.
from exptflow.runtime.hooks import use_output_cache

use_output_cache({stages})
"""
CACHE_FUNCTIONS = """def stage_record(experiment, stage):
    return f"{{OUTPUT}}/{{experiment}}/{record}"


def stage_directory(experiment, stage):
    \"\"\"A cached stage's own directory: its results, what the cache stores.\"\"\"
    return f"{{OUTPUT}}/{{experiment}}/{directory}"


"""
CACHE_SETTING = """
# Stages with `cache: true` take their results from Snakemake's between-workflow cache when
# another sweep made them with the same command (in $SNAKEMAKE_OUTPUT_CACHE, by default
# ~/.cache/exptflow/snakemake-output-cache).
cache: true
"""
SNAPSHOT_ONSTART = """    # `code: {mode}`: the stages run in a copy of the commit (one per commit).
    from exptflow.runtime.snapshot import use_snapshot

    use_snapshot(OUTPUT, uncommitted={uncommitted})
"""
PROCESS_FUNCTIONS = """def resolved_params(wildcards):
    return json.dumps(EXPERIMENTS[wildcards.experiment]["params"], sort_keys=True)


def current_environment(wildcards):
    \"\"\"A packed stage's software: the conda environment this Snakemake runs in, if any.\"\"\"
    return os.environ.get("CONDA_PREFIX")


"""


def _action(stage: Stage, output: str) -> str:
    if stage.pack:
        return _process_action(stage, output)
    limit = f", time_limit={stage.time_limit:g}" if stage.time_limit else ""
    action = SHARED_IN_PROCESS if stage.shared else IN_PROCESS
    return action.format(stage=json.dumps(stage.name), gpu=stage.uses_gpu, limit=limit)


def _process_action(stage: Stage, output: str) -> str:
    directory = shlex.quote(output).replace("{", "{{").replace("}", "}}")
    flags = ' --slots "$EXPTFLOW_SLOTS"' + ("" if stage.uses_gpu else " --no-gpu")
    limit = f" --time-limit {stage.time_limit:g}" if stage.time_limit else ""
    job = (
        f"{SHARED}/{stage.name}/{{wildcards.key:q}}" if stage.shared else "{wildcards.experiment:q}"
    )
    first = (
        f'"$EXPTFLOW_PYTHON" -m exptflow.runtime.job --stage {stage.name} '
        f"--directory {directory}/{job} "
    )
    second = f"--command {{params.command:q}} --params {{params.resolved:q}}{flags}{limit}"
    return AS_PROCESS.format(first=json.dumps(first), second=json.dumps(second))


def _message(text: str) -> str:
    """A rule's ``message:``: Snakemake formats it with the job's wildcards and params."""
    return json.dumps(text.replace("{", "{{").replace("}", "}}"))


def _outputs(stage: Stage) -> str:
    stage_literal = json.dumps(stage.name)
    if stage.shared and stage.cache:
        job = json.dumps(f"{SHARED}/{stage.name}/{{key}}")  # its directory under OUTPUT
        return CACHED_SHARED_OUTPUTS.format(stage=stage_literal, job=job)
    if stage.shared:
        return f'        shared_done("{{key}}", {stage_literal}),\n'
    if stage.cache:
        return CACHED_OUTPUTS.format(stage=stage_literal)
    return f'        done("{{experiment}}", {stage_literal}),\n'


def _cache_location(stages: tuple[Stage, ...]) -> str:
    return CACHE_LOCATION.format(stages=json.dumps([s.name for s in stages if s.cache]))


def _cache_functions() -> str:
    before, after = _around_stage(ExperimentPaths.record)
    before = before.removeprefix("/")  # record() joins strings: "" + "/.exptflow/..."
    own_before, own_after = _around_stage(ExperimentPaths.stage_directory)
    return CACHE_FUNCTIONS.format(
        record=f"{before}{{stage}}{after}", directory=f"{own_before}{{stage}}{own_after}"
    )


def _snapshot_onstart(code: str) -> str:
    if code == "live":
        return ""
    return SNAPSHOT_ONSTART.format(mode=code, uncommitted=code == "snapshot+uncommitted")


def _rule(stage: Stage, has_slots: bool, remaining: int, tune: bool, output: str) -> str:
    stage_literal = json.dumps(stage.name)
    if stage.shared:
        rule_template, resolved = "shared_rule.smk.tmpl", f"shared_params({stage_literal})"
        wildcard = f"{SHARED}/{stage.name}/{{wildcards.key}}"
    else:
        rule_template, resolved = "rule.smk.tmpl", "resolved_params"
        wildcard = "{wildcards.experiment}"
    # Each job prints the experiment's real command (the rule's `run:` has no shell command).
    message = _message(stage.name)[:-1] + f" {wildcard}: {{params.command}}"
    # A message replaces Snakemake's job block, resources included: what a stage asks for.
    asked = (["gpu"] if stage.gpus else []) + list(stage.resources)
    if asked:
        message += " (" + ", ".join(f"{name}={{resources.{name}}}" for name in asked) + ")"
    message += '"'
    return template("exptflow.workflow", rule_template).substitute(
        rule=rule_name(stage.name),
        stage=stage.name,
        stage_literal=stage_literal,
        message_literal=message,
        outputs=_outputs(stage),
        process_params=f"        resolved={resolved},\n" if stage.pack else "",
        directives=_directives(stage, has_slots, remaining, tune),
        action=_action(stage, output),
    )


def _imports(packed: bool, shared: bool) -> list[str]:
    """The standard library modules the Snakefile uses (the process form needs two more)."""
    extra = ["json", "sys"] if packed else ["json"] if shared else []
    return sorted(["os", "time", *extra])


def _shared_functions(plan: Plan, table: str) -> str:
    """The helpers of shared stages' rules (workflow/shared.smk.tmpl); none without them."""
    if not plan.shared:
        return ""
    done_before, done_after = _around_stage(ExperimentPaths.done)
    log_before, log_after = _around_stage(ExperimentPaths.latest_log)
    return template("exptflow.workflow", "shared.smk.tmpl").substitute(
        output=plan.output,
        shared=SHARED,
        table=table,
        table_literal=json.dumps(table),
        done_before=done_before,
        done_after=done_after,
        log_before=log_before,
        log_after=log_after,
    )


def snakefile(plan: Plan, table: str) -> str:
    done_before, done_after = _around_stage(ExperimentPaths.done)
    log_before, log_after = _around_stage(ExperimentPaths.latest_log)
    sweep = plan.sweep
    count = len(sweep.stages)
    rules = "".join(
        _rule(stage, bool(sweep.slots), count - index, plan.tune is not None, plan.output)
        for index, stage in enumerate(sweep.stages)
    )
    packed = any(stage.pack for stage in sweep.stages)
    cached = any(stage.cache for stage in sweep.stages)
    shared = bool(plan.shared)
    return template("exptflow.workflow", "Snakefile.tmpl").substitute(
        version=__version__,
        sweep=sweep.source,
        sweep_literal=json.dumps(sweep.source),
        output_literal=json.dumps(plan.output),
        results_literal=json.dumps(OutputPaths(plan.output).results.as_posix()),
        runs_literal=json.dumps(OutputPaths(plan.output).runs.as_posix()),
        table=table,
        table_literal=json.dumps(table),
        slots_literal=json.dumps(list(sweep.slots)),
        imports="\n".join(f"import {name}" for name in _imports(packed, shared)),
        process_form=PROCESS_FORM if packed else "",
        process_functions=PROCESS_FUNCTIONS if packed else "",
        cache_location=_cache_location(sweep.stages) if cached else "",
        cache_functions=_cache_functions() if cached else "",
        snapshot_onstart=_snapshot_onstart(sweep.code),
        shared_functions=_shared_functions(plan, table),
        after_shared=AFTER_SHARED if shared else "",
        done_before=done_before,
        done_after=done_after,
        log_before=log_before,
        log_after=log_after,
        targets=_targets(plan, table),
        report=_report(plan),
        # Optuna loads beside the first jobs, and only in a run that has jobs.
        tune_onstart="    TUNE.import_optuna_in_background()\n" if plan.tune else "",
        rules=rules,
    )


def _targets(plan: Plan, table: str) -> str:
    """What `snakemake` alone makes: every experiment's stages, or a search's trials."""
    outputs = OutputPaths(plan.output)
    collect = {
        "table_literal": json.dumps(table),
        "collect_log_literal": json.dumps(outputs.collect_log.as_posix()),
        "collect_message_literal": _message(f"the results table: {outputs.results.as_posix()}"),
    }
    if plan.tune is None:
        return template("exptflow.workflow", "targets.smk.tmpl").substitute(
            collect,
            shared_targets=SHARED_TARGETS if plan.shared else "",
            own_stages=OWN_STAGES if plan.shared else "",
        )
    return template("exptflow.workflow", "tune.smk.tmpl").substitute(
        collect,
        study_literal=json.dumps(plan.tune.study),
        trials=plan.tune.trials,
        parallel=plan.tune.parallel,
    )


def _report(plan: Plan) -> str:
    outputs = OutputPaths(plan.output)
    return template("exptflow.workflow", "report.smk.tmpl").substitute(
        pages_literal=json.dumps(outputs.report_pages.as_posix()),
        plots_literal=json.dumps(outputs.report_plots.as_posix()),
        report_log_literal=json.dumps(outputs.report_log.as_posix()),
    )


def pack_group(stage: str) -> str:
    return f"pack-{stage}"


def cluster_profile(plan: Plan, name: str) -> str:
    """The SLURM or Kubernetes profile: the shipped template and the stages to pack."""
    packed = [stage for stage in plan.sweep.stages if stage.pack]
    block = ""
    if packed:
        block = (
            "# Pack short stages: this many jobs of a stage per submission (`pack` in the sweep).\n"
        )
        block += "group-components:\n"
        block += "".join(f"  - {pack_group(s.name)}={s.pack}\n" for s in packed)
    text = template("exptflow.profiles", f"{name}/config.v8+.yaml.tmpl").substitute(
        sweep=plan.sweep.source, group_components=block
    )
    return mark_generated(text)


def default_profile(plan: Plan) -> str:
    slots = plan.sweep.slots
    block = ""
    if slots:
        block = (
            f"\n# GPU slots: at most {len(slots)} GPU jobs at once, one per entry of `resource`.\n"
            f"resources:\n  gpu_slot: {len(slots)}\n"
        )
    if any(stage.cache for stage in plan.sweep.stages):
        block += CACHE_SETTING
    text = template("exptflow.profiles", "default/config.v8+.yaml.tmpl").substitute(
        sweep=plan.sweep.source, resources_block=block
    )
    return mark_generated(text)


def mark_generated(text: str) -> str:
    """Prefix a line that lets compile tell its own file from one the user edited."""
    return f"{GENERATED_MARK}{_digest(text)}\n{text}"


def is_unedited(text: str) -> bool:
    first, _, rest = text.partition("\n")
    return first.startswith(GENERATED_MARK) and first[len(GENERATED_MARK) :] == _digest(rest)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
