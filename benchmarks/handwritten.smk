# The baseline: what a user would write by hand over the same experiments table — one rule
# per stage, a wildcard over experiments, each stage after the previous one, no wrapper.
import json

with open("experiments.json") as table:
    EXPERIMENTS = json.load(table)["experiments"]


def previous(stage):
    def inputs(wildcards):
        stages = EXPERIMENTS[wildcards.experiment]["stages"]
        position = stages.index(stage)
        return [] if position == 0 else f"hand/{wildcards.experiment}/{stages[position - 1]}.done"

    return inputs


def command(stage):
    return lambda wildcards: EXPERIMENTS[wildcards.experiment]["commands"][stage]


rule all:
    input:
        [f"hand/{name}/{stage}.done" for name, e in EXPERIMENTS.items() for stage in e["stages"]],


STAGES = list(dict.fromkeys(s for e in EXPERIMENTS.values() for s in e["stages"]))

for STAGE in STAGES:

    rule:
        name:
            STAGE
        input:
            previous(STAGE),
        output:
            f"hand/{{experiment}}/{STAGE}.done",
        params:
            command=command(STAGE),
        shell:
            "{params.command} && touch {output:q}"
