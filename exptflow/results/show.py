"""Formatting a results frame for the terminal and for papers (table, tsv, csv, md, latex,
json), hiding the columns that are the same in every row, as mlrunner's ``Examiner`` does."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the CLI imports FORMATS before it needs pandas
    import pandas as pd

FORMATS = ("table", "tsv", "csv", "md", "latex", "json")


def constant_columns(frame: pd.DataFrame) -> list[str]:
    if len(frame) < 2:
        return []
    return [c for c in frame.columns if frame[c].astype(str).nunique(dropna=False) == 1]


def select_columns(
    frame: pd.DataFrame, columns: Sequence[str] | None, show_constant: bool
) -> pd.DataFrame:
    if columns:
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            from exptflow.errors import UserInputError

            valid = ", ".join(map(str, frame.columns))
            raise UserInputError(f"--columns: no column {', '.join(missing)}; columns: {valid}")
        return frame[list(columns)]
    hidden = set() if show_constant else set(constant_columns(frame))
    hidden.add("directory")
    return frame[[c for c in frame.columns if c not in hidden]]


def cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _rows(frame: pd.DataFrame) -> list[list[str]]:
    return [[cell(v) for v in row] for row in frame.itertuples(index=False, name=None)]


def _aligned(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(x) for x in column) for column in zip(header, *rows, strict=False)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    return "\n".join(lines)


def _markdown(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _latex_escape(text: str) -> str:
    for char in "\\&%$#_{}":
        text = text.replace(char, "\\" + char if char != "\\" else "\\textbackslash{}")
    return text


def _latex(header: list[str], rows: list[list[str]]) -> str:
    lines = ["\\begin{tabular}{" + "l" * len(header) + "}", "\\toprule"]
    lines.append(" & ".join(map(_latex_escape, header)) + " \\\\")
    lines.append("\\midrule")
    lines += [" & ".join(map(_latex_escape, row)) + " \\\\" for row in rows]
    lines += ["\\bottomrule", "\\end{tabular}"]
    return "\n".join(lines)


def format_table(frame: pd.DataFrame, form: str = "table") -> str:
    header = [str(c) for c in frame.columns]
    if form == "json":
        return json.dumps(json.loads(frame.to_json(orient="records")), indent=1)
    if form in ("tsv", "csv"):
        return frame.to_csv(sep="\t" if form == "tsv" else ",", index=False).rstrip("\n")
    rows = _rows(frame)
    if form == "md":
        return _markdown(header, rows)
    if form == "latex":
        return _latex(header, rows)
    return _aligned(header, rows)
