"""One way to turn results into strict JSON: numpy scalars to Python, NaN/inf to null, paths to str."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np


def jsonable(x: Any) -> Any:
    """``x`` with dict keys as str, tuples/arrays as lists, numpy scalars as Python numbers,
    non-finite floats as None and paths as str (recursively)."""
    if isinstance(x, dict):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return jsonable(x.tolist())
    if hasattr(x, "item") and callable(x.item) and getattr(x, "ndim", 1) == 0:
        x = x.item()  # numpy / torch scalar
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, Path):
        return str(x)
    return x


def to_json(obj: Any, *, indent: int | None = 2) -> str:
    """Strict JSON text of ``obj`` (see :func:`jsonable`); other objects by ``str``."""
    return json.dumps(jsonable(obj), indent=indent, default=str)


def write_json(obj: Any, path: str | Path, *, indent: int | None = 2) -> Path:
    """Write :func:`to_json` of ``obj`` to ``path`` (parents created, atomically)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(to_json(obj, indent=indent))
    tmp.replace(path)
    return path
