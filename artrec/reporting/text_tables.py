"""One table, four renderings: Markdown, LaTeX (booktabs), HTML and the terminal (rich).

The paper tables build a :class:`TextTable` once (cell text, bold for the best, a dagger
for "significantly worse"); each renderer only decides the markup, so the three files and
the printed table can never disagree on a number.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from rich.console import Group
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from artrec.console import BOX
from artrec.recsys.compare import DAGGER, markdown_escape
from artrec.reporting.console import SHORT_NAMES

MISSING = "-"
NAME_WIDTH = 16  # a run's name is kept whole up to this width in the terminal's tables
P_VALUE = re.compile(r"\bp < ([0-9]+(?:\.[0-9]+)?)")  # a significance level: math mode
LATEX_SPECIALS = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}


@dataclass(frozen=True)
class Cell:
    text: str
    bold: bool = False
    dagger: bool = False


@dataclass(frozen=True)
class TextTable:
    """A title, a header, rows of cells (the first column names the row, left-aligned;
    the others are right-aligned), rows preceded by a rule, and notes printed below."""

    title: str
    header: list[str]
    rows: list[list[Cell]]
    rules: frozenset[int] = frozenset()
    notes: list[str] = field(default_factory=list)
    left: int = 1  # how many leading columns are text (left-aligned)


def short_label(metric: str) -> str:
    """``recall@20`` -> ``R@20``, as the paper's tables write them."""
    name, _, k = metric.partition("@")
    short = SHORT_NAMES.get(name, name)
    return f"{short}@{k}" if k else short


def number(value: float | None, digits: int = 4, missing: str = MISSING) -> str:
    """A fixed-point number, or ``missing`` for a missing one."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return missing
    return f"{value:.{digits}f}"


def to_markdown(table: TextTable) -> str:
    """A GitHub-flavoured Markdown table under a bold title, with its notes."""

    def row(cells: list[str]) -> str:
        return "| " + " | ".join(cells) + " |"

    align = ["---"] * table.left + ["---:"] * (len(table.header) - table.left)
    header = [markdown_escape(h) for h in table.header]
    lines = [f"**{markdown_escape(table.title)}**", "", row(header), row(align)]
    for cells in table.rows:
        lines.append(row([_markdown_cell(cell) for cell in cells]))
    notes = [f"{note}  " for note in table.notes]
    return "\n".join([*lines, "", *notes]).rstrip() + "\n"


def _markdown_cell(cell: Cell) -> str:
    text = markdown_escape(cell.text)
    text = f"**{text}**" if cell.bold else text
    return text + (DAGGER if cell.dagger else "")


def to_latex(table: TextTable) -> str:
    """A ``table`` environment around a booktabs ``tabular`` (needs ``\\usepackage{booktabs}``)."""
    spec = "l" * table.left + "r" * (len(table.header) - table.left)
    lines = [
        "% needs \\usepackage{booktabs}",
        "\\begin{table}[t]",
        "\\centering",
        f"\\caption{{{latex_escape(table.title)}}}",
        f"\\begin{{tabular}}{{{spec}}}",
        "\\toprule",
        " & ".join(latex_escape(h) for h in table.header) + " \\\\",
        "\\midrule",
    ]
    for index, cells in enumerate(table.rows):
        if index in table.rules:
            lines.append("\\midrule")
        lines.append(" & ".join(_latex_cell(cell) for cell in cells) + " \\\\")
    lines += ["\\bottomrule", "\\end{tabular}"]
    if table.notes:
        notes = P_VALUE.sub(r"$p < \1$", " ".join(latex_escape(note) for note in table.notes))
        lines.append(f"\\par\\smallskip{{\\footnotesize {notes}}}")
    lines.append("\\end{table}")
    return "\n".join(lines) + "\n"


def latex_escape(text: str) -> str:
    """``text`` with LaTeX's special characters escaped (the dagger as ``$^\\dagger$``)."""
    escaped = "".join(LATEX_SPECIALS.get(char, char) for char in text)
    return escaped.replace(DAGGER, r"$^\dagger$")


def _latex_cell(cell: Cell) -> str:
    text = latex_escape(cell.text)
    text = f"\\textbf{{{text}}}" if cell.bold else text
    return text + (r"$^\dagger$" if cell.dagger else "")


def to_html(table: TextTable) -> str:
    """An HTML ``<table>`` with a caption, and the notes as paragraphs."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in table.header)
    body = []
    for index, cells in enumerate(table.rows):
        rule = ' class="rule"' if index in table.rules else ""
        tds = "".join(_html_cell(cell, column < table.left) for column, cell in enumerate(cells))
        body.append(f"<tr{rule}>{tds}</tr>")
    notes = "".join(f'<p class="note">{html.escape(note)}</p>' for note in table.notes)
    return (
        f"<table><caption>{html.escape(table.title)}</caption>"
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>{notes}"
    )


def _html_cell(cell: Cell, text_column: bool) -> str:
    text = html.escape(cell.text)
    text = f"<b>{text}</b>" if cell.bold else text
    text += "&dagger;" if cell.dagger else ""
    return f'<td class="{"text" if text_column else "num"}">{text}</td>'


def rich_table(table: TextTable, skip: Sequence[str] = ()) -> Group:
    """A TextTable for the terminal: bold for the best, daggers kept; names fold onto more
    lines rather than being cut, numbers never wrap (80 columns read well)."""
    rich = Table(
        title=table.title,
        title_justify="left",
        box=BOX,
        padding=(0, 1, 0, 0),
        pad_edge=False,
    )
    longest = max((len(cells[0].text) for cells in table.rows), default=0)
    keep = [i for i, name in enumerate(table.header) if name not in skip]
    for index, name in ((i, table.header[i]) for i in keep):
        if index >= table.left:  # numbers whole; a long header may wrap
            cells = [len(row[index].text) + row[index].dagger for row in table.rows]
            widest = max([*cells, *map(len, name.split())])
            rich.add_column(name, justify="right", min_width=widest, max_width=widest)
        else:
            if index == 0:
                rich.add_column(name, overflow="fold", min_width=min(longest, NAME_WIDTH))
            else:
                rich.add_column(name, overflow="fold", max_width=NAME_WIDTH - 6)
    for cells in table.rows:
        rich.add_row(*(_rich_cell(cells[i]) for i in keep))
    return Group(rich, Text(" ".join(table.notes), style="dim"))


def _rich_cell(cell: Cell) -> str:
    text = escape(cell.text) + (DAGGER if cell.dagger else "")
    return f"[bold]{text}[/bold]" if cell.bold else text
