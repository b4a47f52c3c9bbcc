"""Celeb-DF v1 and v2.

Expected tree (as distributed)::

    ROOT/
      Celeb-real/id0_0000.mp4 ...          real, identity id0
      YouTube-real/00000.mp4 ...           real, identity unknown
      Celeb-synthesis/id0_id1_0000.mp4 ... fake: target id0's clip 0000 with id1's face
      List_of_testing_videos.txt           lines "<1 real | 0 fake> <folder>/<file>.mp4"

Videos may also sit one level down in ``<folder>/videos/`` (a common re-packaging). The test
list decides the test split; every other video is ``train`` (Celeb-DF has no official val
split; ``val_fraction`` carves one from train by identity, seeded). ``pair_id`` names the real
video a row was made from (``data.sampler=paired``): a real's own ``video_id``; for the fake
``id0_id1_0000`` the video id of ``Celeb-real/id0_0000`` (whether or not it is on disk).
"""

from __future__ import annotations

import zlib
from pathlib import Path

import pandas as pd

from fakescope.data.adapters._common import list_files, media_row, require_file, to_frame
from fakescope.data.adapters.registry import register_layout
from fakescope.data.images import VIDEO_SUFFIXES
from fakescope.errors import ConfigError, DataError

FOLDERS = {"Celeb-real": 0, "YouTube-real": 0, "Celeb-synthesis": 1}
TEST_LIST = "List_of_testing_videos.txt"


def read_test_list(path: Path) -> dict[str, int]:
    """``{"<folder>/<stem>": label}`` from Celeb-DF's list (its ``1`` = real -> our label 0)."""
    out: dict[str, int] = {}
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 2 or parts[0] not in ("0", "1"):
            raise DataError(f"line {n}: expected '<0|1> <folder>/<file>', got {line!r}", path=path)
        rel = Path(parts[1])
        out[f"{rel.parent.name}/{rel.stem}"] = 1 - int(parts[0])
    return out


def _identity(folder: str, stem: str) -> str:
    return stem.split("_")[0] if folder != "YouTube-real" else ""


def _pair_id(name: str, folder: str, stem: str) -> str:
    """``<name>/Celeb-real/id0_0000`` for the fake ``id0_id1_0000``; a real's own video id;
    "" for a fake whose name is not ``<target>_<donor>_<clip>``."""
    if FOLDERS[folder] == 0:
        return f"{name}/{folder}/{stem}"
    parts = stem.split("_")
    return f"{name}/Celeb-real/{parts[0]}_{parts[2]}" if len(parts) == 3 else ""


@register_layout("celebdf")
def index_celebdf(root: Path, *, version: str = "v2", test_list: str | None = None,
                  val_fraction: float = 0.0, seed: int = 0) -> pd.DataFrame:
    """Celeb-DF v1/v2: Celeb-real, YouTube-real, Celeb-synthesis; test list decides test split.

    Options: version (v1|v2, goes into the video ids ``celebdf-v2/<folder>/<clip>``), test_list
    (path, default ROOT/List_of_testing_videos.txt), val_fraction (share of train identities
    moved to val, default 0), seed.
    """
    if version not in ("v1", "v2"):
        raise ConfigError(f"version={version!r}", hint="use v1 or v2")
    val_fraction = float(val_fraction)
    if not 0.0 <= val_fraction < 1.0:
        raise ConfigError(f"val_fraction={val_fraction}", hint="use a value in [0, 1)")
    tl = Path(test_list).expanduser() if test_list else root / TEST_LIST
    tests = read_test_list(require_file(tl, "Celeb-DF test list",
                                        hint="pass test_list=PATH if it lives elsewhere"))
    name = f"celebdf-{version}"
    present = [f for f in FOLDERS if (root / f).is_dir()]
    if not present:
        raise DataError("expected folder not found (Celeb-DF videos)", path=root / "Celeb-real",
                        hint=f"ROOT must contain {', '.join(FOLDERS)}")
    rows, seen = [], set()
    for folder in present:
        vdir = root / folder / "videos" if (root / folder / "videos").is_dir() else root / folder
        label = FOLDERS[folder]
        for f in list_files(vdir, VIDEO_SUFFIXES):
            key = f"{folder}/{f.stem}"
            seen.add(key)
            if key in tests and tests[key] != label:
                raise DataError(f"test list labels {key} as {'fake' if tests[key] else 'real'} "
                                f"but it sits in {folder}", path=tl)
            vid = f"{name}/{key}"
            rows.append(media_row(f, sample_id=vid, label=label,
                                  source="real" if label == 0 else "Celeb-synthesis",
                                  video_id=vid, identity=_identity(folder, f.stem),
                                  split="test" if key in tests else "train",
                                  source_identity=f.stem.split("_")[1] if label else "",
                                  real_source=folder if label == 0 else "", dataset=name,
                                  pair_id=_pair_id(name, folder, f.stem)))
    absent = sorted(set(tests) - seen)
    for key in absent:  # index_dataset's `missing` option reports or drops these
        folder, stem = key.split("/", 1)
        rows.append(media_row(root / folder / f"{stem}.mp4", sample_id=f"{name}/{key}",
                              label=tests[key], source="real" if tests[key] == 0 else
                              "Celeb-synthesis", video_id=f"{name}/{key}", split="test",
                              dataset=name, pair_id=_pair_id(name, folder, stem)
                              if folder in FOLDERS else ""))
    df = to_frame(rows, origin=str(root))
    if val_fraction > 0:
        df = _carve_val(df, val_fraction, seed)
    return df


def _carve_val(df: pd.DataFrame, fraction: float, seed: int) -> pd.DataFrame:
    """Move a seeded ``fraction`` of train identities (all their videos) to ``val``."""
    train = df["split"] == "train"
    ids = df.loc[train, "identity"].replace("", pd.NA).fillna(df.loc[train, "video_id"])
    # crc32 keyed by seed: stable across runs and machines, independent of row order.
    def pick(i: str) -> bool:
        return zlib.crc32(f"{seed}:{i}".encode()) / 2**32 < fraction
    df.loc[ids.index[ids.map(pick).to_numpy(dtype=bool)], "split"] = "val"
    return df
