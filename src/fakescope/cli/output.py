"""Printing helpers shared by CLI commands: rich tables and JSON files."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd
from rich.console import Console
from rich.markup import escape
from rich.table import Table

console = Console()
err_console = Console(stderr=True)


def _clean(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    if hasattr(x, "item") and getattr(x, "ndim", 1) == 0:
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def to_json(obj: Any) -> str:
    """JSON text with NaN/inf as null (strict JSON)."""
    return json.dumps(_clean(obj), indent=2, default=str)


def write_json(obj: Any, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(to_json(obj))
    return path


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
