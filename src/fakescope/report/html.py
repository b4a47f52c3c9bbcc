"""One HTML report per run folder, assembled from sections that any command can add.

Layout of a run folder ``OUT``::

    OUT/report.html             the page (figures embedded, readable offline as one file)
    OUT/report.json             every section's numbers, keyed by section
    OUT/sections/<key>.json     one file per section (so commands add to the same report)
    OUT/tables/<key>__<name>.csv
    OUT/figures/*.png

``Report(out).add(Section(...))`` writes the section files and re-renders the page from every
section present, ordered by ``order`` then key.
"""

from __future__ import annotations

import base64
import html
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from fakescope.report.jsonable import jsonable


@dataclass
class Section:
    """A report section.

    ``tables`` are DataFrames (written as CSV, shown as HTML tables); ``figures`` are PNG paths
    (relative to the run folder or absolute); ``numbers`` is any JSON-able dict of results.
    """

    key: str
    title: str
    text: str = ""
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    figures: list[str] = field(default_factory=list)
    numbers: dict[str, Any] = field(default_factory=dict)
    order: int = 50


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;background:#f6f7f9;color:#1d2330}
header{background:#1d2330;color:#fff;padding:18px 32px}header h1{margin:0;font-size:22px}
header p{margin:4px 0 0;color:#aab3c5;font-size:13px}
nav{padding:8px 32px;background:#e9ecf2;font-size:13px}nav a{margin-right:14px;color:#274b8f;text-decoration:none}
main{padding:8px 32px 40px;max-width:1200px}
section{background:#fff;border-radius:8px;padding:16px 20px;margin:18px 0;box-shadow:0 1px 3px #0001}
h2{margin-top:0;font-size:18px}h3{font-size:14px;color:#444;margin:14px 0 6px}
p.lead{color:#444;font-size:14px;line-height:1.45}
table{border-collapse:collapse;font-size:12.5px;margin:6px 0 12px}
th,td{border-bottom:1px solid #e3e6ec;padding:4px 10px;text-align:right}
th{background:#f0f2f6;position:sticky;top:0}td:first-child,th:first-child{text-align:left}
.figs{display:flex;flex-wrap:wrap;gap:14px}.figs img{max-width:100%;height:auto;border:1px solid #e3e6ec;border-radius:4px}
"""


class Report:
    """The report of one run folder."""

    def __init__(self, out_dir: str | Path, *, title: str = "fakescope report"):
        self.out = Path(out_dir)
        self.title = title
        (self.out / "sections").mkdir(parents=True, exist_ok=True)

    @property
    def html_path(self) -> Path:
        return self.out / "report.html"

    def add(self, section: Section) -> Path:
        """Write one section (tables as CSV, numbers as JSON) and re-render the page."""
        tables_dir = self.out / "tables"
        tables_dir.mkdir(parents=True, exist_ok=True)
        table_files = {}
        for name, df in section.tables.items():
            f = tables_dir / f"{section.key}__{name}.csv"
            df.to_csv(f, index=False)
            table_files[name] = str(f.relative_to(self.out))
        figures = []
        root = self.out.resolve()
        for fig in section.figures:
            p = Path(fig).resolve()  # relative paths are relative to the working directory
            figures.append(str(p.relative_to(root)) if root in p.parents else str(p))
        meta = asdict(section)
        meta.pop("tables")
        meta["figures"] = figures
        meta["table_files"] = table_files
        meta = jsonable(meta)
        (self.out / "sections" / f"{section.key}.json").write_text(json.dumps(meta, indent=2))
        return self.render()

    def sections(self) -> list[dict]:
        files = sorted((self.out / "sections").glob("*.json"))
        secs = [json.loads(f.read_text()) for f in files]
        return sorted(secs, key=lambda s: (s.get("order", 50), s["key"]))

    def _figure_html(self, rel: str) -> str:
        p = Path(rel) if Path(rel).is_absolute() else self.out / rel
        if not p.is_file():
            return f"<p>missing figure {html.escape(rel)}</p>"
        data = base64.b64encode(p.read_bytes()).decode()
        return f'<img alt="{html.escape(p.stem)}" src="data:image/png;base64,{data}">'

    def _table_html(self, rel: str, name: str) -> str:
        df = pd.read_csv(self.out / rel)
        body = df.to_html(index=False, float_format=lambda v: f"{v:.4g}", border=0,
                          na_rep="–", escape=True)
        return f"<h3>{html.escape(name.replace('_', ' '))}</h3>{body}"

    def render(self) -> Path:
        """Re-render ``report.html`` and ``report.json`` from the section files."""
        secs = self.sections()
        nav = "".join(f'<a href="#{html.escape(s["key"])}">{html.escape(s["title"])}</a>'
                      for s in secs)
        parts = []
        for s in secs:
            tables = "".join(self._table_html(rel, name) for name, rel in s.get("table_files", {}).items())
            figs = "".join(self._figure_html(f) for f in s.get("figures", []))
            text = "".join(f'<p class="lead">{html.escape(t)}</p>' for t in s.get("text", "").split("\n\n") if t)
            parts.append(f'<section id="{html.escape(s["key"])}"><h2>{html.escape(s["title"])}</h2>'
                         f'{text}{tables}<div class="figs">{figs}</div></section>')
        page = (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(self.title)}"
                f"</title><style>{_CSS}</style></head><body><header><h1>{html.escape(self.title)}</h1>"
                f"<p>{len(secs)} section(s) · numbers in report.json, tables in tables/</p></header>"
                f"<nav>{nav}</nav><main>{''.join(parts)}</main></body></html>")
        self.html_path.write_text(page)
        (self.out / "report.json").write_text(json.dumps(
            {s["key"]: {"title": s["title"], "numbers": s.get("numbers", {})} for s in secs}, indent=2))
        return self.html_path
