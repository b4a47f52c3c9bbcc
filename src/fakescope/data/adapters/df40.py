"""DF40 and other generator-per-folder sets.

Expected tree (DF40's processed release; other sets with one folder per generator alike)::

    ROOT/                                    or ROOT/{train,val,test}/ with the same below
      <method>/<domain>/frames/<clip>/000.png ...   frames of one clip (domain: ff, cdf, ...)
      <method>/<domain>/<clip>.mp4 ...              or videos
      <method>/<image>.png ...                      or independent images (face synthesis)
      real/ ...                                     real folders, if shipped (``real_dirs``)

Every folder under ROOT is a generator (``source``); folders named in ``real_dirs`` hold real
data. The first level below a method is a ``domain`` when its name is in ``domains``. Images
inside a per-clip sub-folder are frames of that clip (``video_id`` = method + domain + clip);
images sitting directly in the method (or domain, or ``frames``) folder are independent samples.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from fakescope.data.adapters._common import (
    MEDIA_SUFFIXES,
    as_list,
    frame_number,
    is_image,
    list_files,
    media_row,
    to_frame,
)
from fakescope.data.adapters.registry import register_layout
from fakescope.errors import DataError

SPLIT_DIRS = ("train", "val", "test")
CONTAINERS = ("frames", "videos", "images")


@register_layout("df40")
def index_df40(root: Path, *, name: str = "df40", split: str = "",
               real_dirs: str | list[str] = "real,original,youtube,Celeb-real,YouTube-real",
               domains: str | list[str] = "ff,cdf,dfdc,uadfv,fvhq,ffhq,celeba") -> pd.DataFrame:
    """Generator-per-folder sets (DF40): ROOT/<method>/[<domain>/][frames/]<clip>/<frame>.png.

    Options: name (id prefix), split (split for every row when ROOT has no train/val/test
    folders), real_dirs (comma list of folder names holding real data), domains (comma list of
    names recognised as the domain level).
    """
    reals = {r.lower() for r in as_list(real_dirs) or []}
    doms = {d.lower() for d in as_list(domains) or []}
    split_roots = [(s, root / s) for s in SPLIT_DIRS if (root / s).is_dir()] or [(split, root)]
    rows: list[dict] = []
    for sp, sroot in split_roots:
        methods = sorted(p for p in sroot.iterdir() if p.is_dir() and not p.name.startswith("."))
        if not methods:
            raise DataError("expected one folder per generator", path=sroot / "<method>")
        prefix = f"{name}/{sp}" if sp and split_roots[0][1] != root else name
        for mdir in methods:
            label = 0 if mdir.name.lower() in reals else 1
            source = "real" if label == 0 else mdir.name
            for f in list_files(mdir, MEDIA_SUFFIXES, recursive=True):
                rows.append(_row(f, mdir, prefix, label, source, sp, doms, name))
    return to_frame(rows, origin=str(root))


def _row(f: Path, mdir: Path, prefix: str, label: int, source: str, split: str,
         doms: set[str], name: str) -> dict:
    rel = f.relative_to(mdir).parts
    domain = rel[0] if len(rel) > 1 and rel[0].lower() in doms else ""
    inner = [p for p in rel[1 if domain else 0:-1] if p.lower() not in CONTAINERS]
    base = f"{prefix}/{mdir.name}" + (f"/{domain}" if domain else "")
    sid = f"{prefix}/{mdir.name}/{'/'.join(rel)}"
    if is_image(f) and inner:  # frames of a clip folder
        vid = f"{base}/{'/'.join(inner)}"
        frame = frame_number(f, 0)
    else:
        vid, frame = sid, 0
    return media_row(f, sample_id=sid, label=label, source=source, video_id=vid, frame=frame,
                     split=split, domain=domain, dataset=name)
