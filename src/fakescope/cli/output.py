"""Printing helpers shared by CLI commands: rich tables and JSON files."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from fakescope.report.jsonable import to_json, write_json

__all__ = ["console", "err_console", "print_table", "to_json", "write_json"]

console = Console()
err_console = Console(stderr=True)


def _cell(v: Any, digits: int) -> str:
    if isinstance(v, float):
        if v.is_integer() and abs(v) < 1e15:
            return str(int(v))
        return "nan" if math.isnan(v) else f"{v:.{digits}f}"
    return str(v)


def print_table(df: pd.DataFrame, *, title: str | None = None, digits: int = 4) -> None:
    table = Table(title=title, header_style="bold")
    for c in df.columns:
        table.add_column(str(c), justify="right" if pd.api.types.is_numeric_dtype(df[c]) else "left")
    for row in df.itertuples(index=False):
        table.add_row(*[escape(_cell(v, digits)) for v in row])
    console.print(table)
