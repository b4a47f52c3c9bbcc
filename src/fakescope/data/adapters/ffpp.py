"""FaceForensics++ (and DeepFakeDetection, DFD, which ships in the same tree).

Expected tree (as the official download script writes it)::

    ROOT/
      original_sequences/youtube/<comp>/videos/000.mp4 ...        real, FF++
      original_sequences/actors/<comp>/videos/01__scene.mp4 ...   real, DFD
      manipulated_sequences/<Method>/<comp>/videos/000_003.mp4    fake, FF++ methods
      manipulated_sequences/DeepFakeDetection/<comp>/videos/01_02__scene__ID.mp4   fake, DFD
      train.json val.json test.json   (official splits; or in ROOT/splits/, or --splits DIR)

``<comp>`` is ``c0`` (alias ``raw``), ``c23`` or ``c40``. A fake ``000_003`` shows target video
000 with the face of 003: ``identity`` = target id ``000``, ``source_identity`` = ``003``.
``pair_id`` names the real video a row was made from (``data.sampler=paired``): a real's own
``video_id``; for ``000_003`` ``ffpp/original/000``; for DFD's ``01_02__scene__ID`` the target
actor's video of the same scene, ``dfd/original/01__scene``.
Split JSONs hold pairs ``[["953", "974"], ...]``: both originals and both fakes
(``953_974``, ``974_953``) of a pair go to that split. DFD has no official split (``dfd_split``).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from fakescope.data.adapters._common import (
    as_list,
    list_files,
    media_row,
    require_dir,
    require_file,
    to_frame,
)
from fakescope.data.adapters.registry import register_layout
from fakescope.data.images import VIDEO_SUFFIXES
from fakescope.errors import ConfigError, DataError

FFPP_METHODS = ("Deepfakes", "Face2Face", "FaceSwap", "NeuralTextures", "FaceShifter")
DFD_METHOD = "DeepFakeDetection"
COMPRESSIONS = ("c0", "raw", "c23", "c40")


def _comp_dir(parent: Path, compression: str) -> Path:
    """``parent/<comp>/videos``, accepting ``raw`` for ``c0`` and vice versa."""
    names = [compression] + ({"c0": ["raw"], "raw": ["c0"]}.get(compression, []))
    for name in names:
        if (parent / name / "videos").is_dir():
            return parent / name / "videos"
    return parent / compression / "videos"


def load_split_pairs(splits_dir: Path) -> dict[str, str]:
    """Map clip keys (``953``, ``953_974``, ``974_953``) to split from the official JSONs."""
    out: dict[str, str] = {}
    for split in ("train", "val", "test"):
        f = require_file(splits_dir / f"{split}.json", f"FF++ {split} split list",
                         hint="pass splits=DIR (the folder with train/val/test.json) "
                         "or splits=none to leave splits empty")
        try:
            pairs = json.loads(f.read_text())
            for a, b in pairs:
                a, b = str(a), str(b)
                out[a] = out[b] = out[f"{a}_{b}"] = out[f"{b}_{a}"] = split
        except (ValueError, TypeError) as exc:
            raise DataError(f"not a list of id pairs: {exc}", path=f) from exc
    return out


def _find_splits(root: Path, splits: str | None) -> Path | None:
    if splits is not None and str(splits).lower() == "none":
        return None
    if splits is not None:
        return require_dir(Path(splits).expanduser(), "FF++ split folder")
    for cand in (root, root / "splits"):
        if (cand / "train.json").is_file():
            return cand
    require_file(root / "train.json", "FF++ official split list",
                 hint="put train/val/test.json in ROOT or ROOT/splits, pass splits=DIR, "
                 "or splits=none")
    return None  # unreachable


@register_layout("ffpp")
def index_ffpp(root: Path, *, compression: str = "c23", subset: str = "ffpp",
               methods: str | list[str] | None = None, splits: str | None = None,
               dfd_split: str = "") -> pd.DataFrame:
    """FaceForensics++ / DFD: original_sequences + manipulated_sequences, official JSON splits.

    Options: compression (c0|raw|c23|c40), subset (ffpp|dfd|all), methods (comma list; default:
    every FF++ method folder present), splits (folder with train/val/test.json; default ROOT or
    ROOT/splits; ``none`` = no split), dfd_split (split given to DFD videos, default "").
    """
    if compression not in COMPRESSIONS:
        raise ConfigError(f"compression={compression!r}", hint=f"use one of {', '.join(COMPRESSIONS)}")
    if subset not in ("ffpp", "dfd", "all"):
        raise ConfigError(f"subset={subset!r}", hint="use ffpp, dfd or all")
    orig = require_dir(root / "original_sequences", "FF++ originals")
    manip = require_dir(root / "manipulated_sequences", "FF++ manipulations")
    rows: list[dict] = []
    if subset in ("ffpp", "all"):
        split_of = {}
        sdir = _find_splits(root, splits)
        if sdir is not None:
            split_of = load_split_pairs(sdir)
        vdir = require_dir(_comp_dir(orig / "youtube", compression), "FF++ real videos")
        for f in list_files(vdir, VIDEO_SUFFIXES):
            clip = f.stem
            vid = f"ffpp/original/{clip}"
            rows.append(media_row(f, sample_id=vid, label=0, source="real", video_id=vid,
                                  identity=clip, split=split_of.get(clip, ""),
                                  compression=compression, dataset="ffpp", pair_id=vid))
        wanted = as_list(methods)
        explicit = wanted is not None
        for method in wanted or FFPP_METHODS:
            if method == DFD_METHOD:
                continue
            mdir = _comp_dir(manip / method, compression)
            if not mdir.is_dir():
                if explicit:
                    require_dir(mdir, f"videos of method {method}")
                continue
            for f in list_files(mdir, VIDEO_SUFFIXES):
                clip = f.stem
                target, _, src = clip.partition("_")
                vid = f"ffpp/{method}/{clip}"
                rows.append(media_row(f, sample_id=vid, label=1, source=method, video_id=vid,
                                      identity=target, split=split_of.get(clip, ""),
                                      source_identity=src, compression=compression,
                                      dataset="ffpp", pair_id=f"ffpp/original/{target}"))
    if subset in ("dfd", "all"):
        rows += _dfd_rows(orig, manip, compression, dfd_split)
    return to_frame(rows, origin=str(root))


def _dfd_rows(orig: Path, manip: Path, compression: str, split: str) -> list[dict]:
    rows = []
    vdir = require_dir(_comp_dir(orig / "actors", compression), "DFD real videos")
    for f in list_files(vdir, VIDEO_SUFFIXES):
        actor = f.stem.split("__")[0]
        vid = f"dfd/original/{f.stem}"
        rows.append(media_row(f, sample_id=vid, label=0, source="real", video_id=vid,
                              identity=actor, split=split, compression=compression,
                              dataset="dfd", pair_id=vid))
    fdir = require_dir(_comp_dir(manip / DFD_METHOD, compression), "DFD fake videos")
    for f in list_files(fdir, VIDEO_SUFFIXES):
        pair = f.stem.split("__")[0]
        target, _, src = pair.partition("_")
        vid = f"dfd/{DFD_METHOD}/{f.stem}"
        rows.append(media_row(f, sample_id=vid, label=1, source=DFD_METHOD, video_id=vid,
                              identity=target, split=split, source_identity=src,
                              compression=compression, dataset="dfd",
                              pair_id=dfd_real_video_id(f.stem)))
    return rows


def dfd_real_video_id(fake_stem: str) -> str:
    """Video id of the real DFD video a fake was made from, "" if the name does not say.

    ``01_02__walking_down_street__YVGY8LOK`` -> ``dfd/original/01__walking_down_street``: the
    target actor (``01``) filmed in the same scene (everything between the first and the last
    ``__``; the last part is the fake's own random id).
    """
    parts = fake_stem.split("__")
    target = parts[0].partition("_")[0]
    scene = "__".join(parts[1:-1])
    return f"dfd/original/{target}__{scene}" if target and scene else ""
