"""``index_dataset(layout, root, **options)``: a dataset on disk -> a validated manifest."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from fakescope.data.adapters.registry import get_layout, layout_options
from fakescope.data.manifest import validate_manifest
from fakescope.errors import ConfigError, DataError


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
