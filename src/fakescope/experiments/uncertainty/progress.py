"""The progress cache: results of finished detectors, kept so an interrupted or repeated study
does not score them again.

``progress.json``::

    {"format": "fakescope-uncertainty-progress/2",
     "key": {"settings": UncertaintyStudyConfig.settings(),
             "rows": fingerprint of the study's rows (every split, after subsampling)},
     "detectors": {detector: {"runs": {run folder: run fingerprint hash}, "tables": {name: [row]},
                              "end_to_end": [class name] | null, "figures": [path],
                              "skipped": {path: error}}}}

``progress_features.npz``: ``"<kind>::<detector>"`` arrays ``(N, D)`` (kind ``uncertainty`` or
``penultimate``). A detector's results are reused only when the key (the study's settings and
rows) matches AND every run they came from has the recorded fingerprint (its training settings
and rows), so a study run again with other settings never reports old results.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fakescope.report.jsonable import to_json

log = logging.getLogger(__name__)

FORMAT = "fakescope-uncertainty-progress/2"
TABLES = ("summary", "per_generator", "calibration", "logo", "robustness", "localisation",
          "occlusion")
FEATURES = ("uncertainty", "penultimate")


@dataclass
class DetectorResults:
    """What the study measured for one detector.

    ``tables``: rows of each table of :data:`TABLES`; ``features``: ``{"uncertainty": (N, 5),
    "penultimate": (N, D)}`` on the test images; ``end_to_end``: ``(N,)`` sources the
    multi-class detector predicts; ``figures``: map overlays; ``skipped``: unreadable files.
    """

    tables: dict[str, list[dict]] = field(default_factory=lambda: {k: [] for k in TABLES})
    features: dict[str, np.ndarray] = field(default_factory=dict)
    end_to_end: np.ndarray | None = None
    figures: list[Path] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)


class Progress:
    """The progress cache of the study folder ``out`` for ``key`` (settings and rows)."""

    def __init__(self, out: Path, key: dict[str, Any]):
        self.path, self.features_path = out / "progress.json", out / "progress_features.npz"
        self.key = json.loads(to_json(key))
        self.state: dict[str, dict] = {}
        self.arrays: dict[str, np.ndarray] = {}
        if not (self.path.is_file() and self.features_path.is_file()):
            return
        saved = json.loads(self.path.read_text())
        if saved.get("format") != FORMAT or saved.get("key") != self.key:
            log.info("uncertainty study: options or rows changed, ignoring %s", self.path)
            return
        self.state = saved["detectors"]
        with np.load(self.features_path, allow_pickle=False) as z:
            self.arrays = {k: z[k] for k in z.files}

    def get(self, detector: str, runs: dict[str, str]) -> DetectorResults | None:
        """The saved results of ``detector`` when they came from ``runs`` (``{folder:
        fingerprint}``), else None."""
        entry = self.state.get(detector)
        if entry is None or entry["runs"] != runs:
            return None
        res = DetectorResults(
            tables={k: list(entry["tables"].get(k, [])) for k in TABLES},
            end_to_end=None if entry["end_to_end"] is None else np.array(entry["end_to_end"]),
            figures=[Path(f) for f in entry["figures"]], skipped=dict(entry["skipped"]))
        for kind in FEATURES:
            if f"{kind}::{detector}" in self.arrays:
                res.features[kind] = self.arrays[f"{kind}::{detector}"]
        return res

    def put(self, detector: str, runs: dict[str, str], res: DetectorResults) -> None:
        """Save ``res`` of ``detector`` (made from ``runs``) beside the others (atomically)."""
        self.state[detector] = json.loads(to_json({
            "runs": runs, "tables": res.tables,
            "end_to_end": None if res.end_to_end is None else res.end_to_end.tolist(),
            "figures": res.figures, "skipped": res.skipped}))
        for kind in FEATURES:
            self.arrays.pop(f"{kind}::{detector}", None)
        self.arrays.update({f"{kind}::{detector}": a for kind, a in res.features.items()})
        tmp = self.features_path.with_name("progress_features.tmp.npz")
        np.savez(tmp, **self.arrays)
        tmp.replace(self.features_path)
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(to_json({"format": FORMAT, "key": self.key, "detectors": self.state},
                               indent=None))
        tmp.replace(self.path)
