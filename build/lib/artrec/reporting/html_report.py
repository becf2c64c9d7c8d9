"""A self-contained HTML report: one file that opens in a browser without a server.

Tables are HTML, figures (SVG) and galleries (PNG) are embedded as base64 data URIs, the
style sheet is inline, each run's configuration sits in a collapsible ``<details>``;
nothing refers to another file or to the network.
"""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass, field
from pathlib import Path

from artrec.reporting.text_tables import TextTable, to_html

MIME = {".svg": "image/svg+xml", ".png": "image/png"}
STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222;
       padding: 0 1em; }
h1 { font-size: 1.6em; } h2 { border-bottom: 1px solid #ccc; padding-bottom: .2em; }
table { border-collapse: collapse; margin: 1em 0 .3em; font-size: .9em; }
caption { text-align: left; font-weight: bold; padding-bottom: .4em; }
th, td { padding: .25em .6em; border-bottom: 1px solid #e4e4e4; }
th { border-bottom: 2px solid #888; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.rule td { border-top: 2px solid #888; }
p.note { font-size: .85em; color: #555; margin: .2em 0; }
.figures { display: flex; flex-wrap: wrap; gap: 1em; }
.figures figure { margin: 0; flex: 1 1 480px; }
figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: .85em; color: #444; }
details { margin: .3em 0; } summary { cursor: pointer; }
pre { background: #f6f6f6; padding: .8em; overflow-x: auto; font-size: .8em; }
"""


@dataclass(frozen=True)
class Section:
    """One group of comparable runs: its tables, figures and galleries (caption, file)."""

    title: str
    notes: list[str] = field(default_factory=list)
    tables: list[TextTable] = field(default_factory=list)
    figures: list[tuple[str, Path]] = field(default_factory=list)
    galleries: list[tuple[str, Path]] = field(default_factory=list)


def data_uri(path: Path) -> str:
    """The file as a base64 ``data:`` URI (SVG or PNG)."""
    encoded = base64.b64encode(path.read_bytes()).decode("ascii")
    return f"data:{MIME[path.suffix]};base64,{encoded}"


def render_html(
    title: str,
    intro: list[str],
    runs: TextTable,
    sections: list[Section],
    configs: list[tuple[str, str]],
) -> str:
    """The whole page: intro, the table of runs, one part per section, then the configs
    (label, text) in collapsible blocks."""
    parts = [f"<h1>{html.escape(title)}</h1>"]
    parts += [f"<p>{html.escape(line)}</p>" for line in intro]
    parts += ["<h2>Runs</h2>", to_html(runs)]
    parts += [_section(section) for section in sections]
    parts.append("<h2>Configurations</h2>")
    parts += [
        f"<details><summary>{html.escape(label)}</summary><pre>{html.escape(text)}</pre></details>"
        for label, text in configs
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head>\n<body>\n"
        + "\n".join(parts)
        + "\n</body></html>\n"
    )


def _section(section: Section) -> str:
    parts = [f"<h2>{html.escape(section.title)}</h2>"]
    parts += [f'<p class="note">{html.escape(note)}</p>' for note in section.notes]
    parts += [to_html(table) for table in section.tables]
    if section.figures:
        parts.append('<h3>Figures</h3><div class="figures">')
        parts += [_figure(caption, path) for caption, path in section.figures]
        parts.append("</div>")
    if section.galleries:
        parts.append("<h3>Recommendation galleries</h3>")
        parts += [_figure(caption, path) for caption, path in section.galleries]
    return "\n".join(parts)


def _figure(caption: str, path: Path) -> str:
    text = html.escape(caption)
    return (
        f'<figure><img src="{data_uri(path)}" alt="{text}"><figcaption>{text}</figcaption></figure>'
    )
