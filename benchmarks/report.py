"""The benchmark's results as a printed table and as docs/performance.md.

Results are collected as sections of rows (a measure, its ratio, the ratio's spread, detail)
plus notes computed from the same numbers, so the text never claims more than was measured.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.machine import Machine
from benchmarks.measure import Paired


@dataclass(frozen=True)
class Row:
    measure: str
    ratio: float | None
    spread: str
    detail: str
    goal: float | None = None
    """an upper bound the ratio should stay under (helpers' overhead goals)"""

    @property
    def verdict(self) -> str:
        if self.goal is None or self.ratio is None:
            return ""
        if self.ratio <= self.goal:
            return f"goal ≤ {self.goal:.2f}: met"
        return f"goal ≤ {self.goal:.2f}: missed by {(self.ratio / self.goal - 1) * 100:.1f}%"


def paired_row(measure: str, paired: Paired, detail: str, goal: float | None = None) -> Row:
    return Row(measure, paired.ratio, paired.spread_text(),
               f"{detail} ({paired.pairs} pairs)", goal)


@dataclass
class Section:
    title: str
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    image: str | None = None
    table: list[list[str]] | None = None
    """a free-form table (first row is the header) for results that are not ratios"""

    def add(self, row: Row) -> Row:
        self.rows.append(row)
        print(format_row(row), flush=True)
        return row

    def note(self, text: str) -> None:
        self.notes.append(text)


def format_row(row: Row) -> str:
    ratio = f"{row.ratio:8.3f}" if row.ratio is not None else f"{'-':>8}"
    verdict = f"  [{row.verdict}]" if row.verdict else ""
    return f"{row.measure:<48} {ratio}  {row.spread:<13} {row.detail}{verdict}"


def header() -> str:
    return f"{'measure':<48} {'ratio':>8}  {'IQR':<13} detail"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown(sections: list[Section], machine: Machine, total_seconds: float,
             command: str) -> str:
    today = dt.datetime.now(dt.UTC).strftime("%d %b %Y, %H:%M UTC")
    lines = [
        "# Performance figures",
        "",
        f"Written by `{command}` on {today}, in {total_seconds / 60:.1f} minutes. Every ratio is "
        "the median of per-pair ratios of two measurements taken in alternation (A B, B A, ...) "
        "after a warm-up, with the interquartile range (IQR) of those ratios as its spread "
        "(`benchmarks/measure.py`): a burst of load from another process slows both members "
        "of a pair and cancels out. Absolute numbers are medians, for context only: rerun "
        "`make bench` on your machine rather than quoting them.",
        "",
        "Machine:",
        "",
        *[f"- {line}" for line in machine.lines()],
        "",
    ]
    shown: dict[int, str] = {}  # rows already in a table (the goals summary repeats some)
    for section in sections:
        lines += [f"## {section.title}", ""]
        if section.rows and all(id(row) in shown for row in section.rows):
            first = shown[id(section.rows[0])]
            lines += [f"Its figures are the table under \"{first}\", above.", ""]
        elif section.rows:
            shown.update({id(row): section.title for row in section.rows})
            lines += ["| measure | ratio | IQR | detail |", "| --- | --- | --- | --- |"]
            for row in section.rows:
                ratio = f"{row.ratio:.3f}" if row.ratio is not None else "-"
                verdict = f" **{row.verdict}**" if row.verdict else ""
                lines.append(f"| {_cell(row.measure)} | {ratio} | {row.spread} | "
                             f"{_cell(row.detail)}{verdict} |")
            lines.append("")
        if section.table:
            head, *body = section.table
            lines += ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
            lines += ["| " + " | ".join(_cell(c) for c in r) + " |" for r in body]
            lines.append("")
        if section.image:
            lines += [f"![{section.title}]({section.image})", ""]
        lines += [f"- {note}" for note in section.notes]
        if section.notes:
            lines.append("")
        if section.seconds:
            lines += [f"*Section time: {section.seconds:.0f} s.*", ""]
    return "\n".join(lines).rstrip() + "\n"


def write(path: Path, text: str) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


__all__ = ["Row", "Section", "format_row", "header", "markdown", "paired_row", "write"]
