"""Dataset layouts: read a benchmark as its owners distribute it and return a manifest.

``index_dataset("ffpp", "/data/FaceForensics++", compression="c23")`` returns a validated
manifest DataFrame (see :mod:`fakescope.data.manifest`) with one row per video (or per image /
extracted frame), plus the columns ``media`` (``video``/``image``) and ``dataset``.
Video ids are globally unique: ``<dataset>/<method>/<clip>``, so FF++'s ``000_003`` under
Deepfakes and under FaceSwap stay separate.

Layouts are registered by name with :func:`register_layout`; each is a function
``fn(root: Path, **options) -> DataFrame`` whose keyword-only options are the layout's options.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from fakescope.data.manifest import validate_manifest
from fakescope.errors import ConfigError, DataError

_LAYOUTS: dict[str, Callable[..., pd.DataFrame]] = {}


def register_layout(name: str):
    """Decorator adding a layout function to the registry under ``name``."""
    def deco(fn):
        _LAYOUTS[name] = fn
        return fn
    return deco


def list_layouts() -> list[str]:
    """Names of the registered layouts, sorted."""
    _load()
    return sorted(_LAYOUTS)


def layout_options(name: str) -> dict[str, object]:
    """The options of a layout with their defaults (``{name: default}``)."""
    fn = get_layout(name)
    return {p.name: p.default for p in inspect.signature(fn).parameters.values()
            if p.kind is inspect.Parameter.KEYWORD_ONLY}


def layout_doc(name: str) -> str:
    """First paragraph of a layout's docstring."""
    return (inspect.getdoc(get_layout(name)) or "").split("\n\n")[0]


def get_layout(name: str) -> Callable[..., pd.DataFrame]:
    _load()
    if name not in _LAYOUTS:
        raise ConfigError(f"unknown dataset layout {name!r}",
                          hint=f"choose one of {', '.join(sorted(_LAYOUTS))}")
    return _LAYOUTS[name]


def index_dataset(layout: str, root: str | Path, *, missing: str = "error",
                  **options) -> pd.DataFrame:
    """Index a dataset on disk into a validated manifest.

    ``missing``: what to do with files a list or metadata file names but the disk lacks —
    ``"error"`` (default) raises DataError naming the first, ``"skip"`` drops them
    (``df.attrs["missing"]`` lists them). Unknown options raise ConfigError listing valid ones.
    """
    fn = get_layout(layout)
    valid = layout_options(layout)
    unknown = sorted(set(options) - set(valid))
    if unknown:
        raise ConfigError(f"layout {layout!r} has no option(s) {', '.join(unknown)}",
                          hint=f"valid options: {', '.join(valid) or 'none'}")
    if missing not in ("error", "skip"):
        raise ConfigError(f"missing={missing!r}", hint="use 'error' or 'skip'")
    root = Path(root).expanduser()
    if not root.exists():
        raise DataError("dataset root not found", path=root)
    df = fn(root.resolve(), **options)
    exists = df["path"].map(lambda p: Path(p).is_file())
    absent = df.loc[~exists, "path"].tolist()
    if absent and missing == "error":
        raise DataError(f"{len(absent)} listed file(s) not on disk, first: {absent[0]}",
                        path=root, hint="complete the download or pass missing=skip")
    df = df[exists].reset_index(drop=True)
    out = validate_manifest(df, origin=str(root))
    out.attrs["missing"] = absent
    out.attrs["layout"] = layout
    return out


def _load() -> None:
    # Importing the modules runs their @register_layout decorators.
    from fakescope.data.adapters import (  # noqa: F401
        celebdf,
        deepfakebench,
        df40,
        dfdc,
        ffpp,
        folder,
    )
