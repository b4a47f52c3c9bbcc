"""Per-file answers: every detector's result side by side, each with its band, and the verdict.

A detector's entry is the object ``fakescope detect --json`` prints for the file (the
:class:`~fakescope.detect.DetectSession` result: ``path`` is the uploaded name, a display string
only; ``verdict``, ``p_fake``, ``uncertainty``, ``ood_score``, ``in_distribution``, per-face
``faces`` with boxes, or ``error`` + ``reason`` when not scored) plus the service's fields:
``detector``, ``version``, ``p_fake_range`` (P(fake) plus and minus one standard deviation over
the stochastic passes, ``sqrt(uncertainty.variance)``, clipped to [0, 1]; per frame too for
videos), ``ood_reason``, ``band`` and ``explanation`` (:mod:`fakescope.serve.verdict`).
"""

from __future__ import annotations

import math
from typing import Any

from fakescope.serve.detectors import LoadedDetector
from fakescope.serve.metrics import ServiceMetrics
from fakescope.serve.verdict import BandRule, band, overall

#: reasons of a file nobody could score because of the file itself (-> 422 for the request)
INTAKE_REASONS = ("empty", "truncated", "unreadable", "too_large", "too_small", "unsupported",
                  "wrong_input", "video_error", "not_found")


def p_range(r: dict[str, Any]) -> list[float] | None:
    if r.get("p_fake") is None:
        return None
    sd = math.sqrt(max(float((r.get("uncertainty") or {}).get("variance", 0.0)), 0.0))
    p = float(r["p_fake"])
    return [round(max(p - sd, 0.0), 4), round(min(p + sd, 1.0), 4)]


def detector_entry(det: LoadedDetector, name: str, result: dict[str, Any], *,
                   rule: BandRule) -> dict[str, Any]:
    """One detector's entry for one file (see the module doc)."""
    r = {**result, "path": name, "detector": det.key, "version": det.version}
    if "error" not in r:
        r["p_fake_range"] = p_range(r)
        if r.get("in_distribution") is False:
            r["ood_reason"] = (f"outside its training data: OOD score {r['ood_score']:.2f}, "
                               "above the 1.0 that 95 % of its validation images stay under")
        for f in r.get("frames") or []:
            f["p_fake_range"] = p_range(f)
    r["band"], r["explanation"] = band(r, rule)
    return r


def file_answer(name: str, kind: str, entries: dict[str, dict[str, Any]],
                metrics: ServiceMetrics | None = None, **extra: Any) -> dict[str, Any]:
    """``{"name", "kind", "width", "height", "faces", ...extra, "detectors": {key: entry},
    "verdict": overall}``; ``faces`` are the boxes the first scoring detector found (every
    detector's own faces are in its entry). Counts bands, abstentions and OOD flags into
    ``metrics``."""
    if metrics is not None:
        for key, e in entries.items():
            metrics.results.inc(detector=key, band=e["band"])
            if "error" in e:
                metrics.abstained.inc(detector=key, reason=str(e.get("reason", "error")))
            elif e.get("in_distribution") is False:
                metrics.ood.inc(detector=key)
    info = next((e["input"] for e in entries.values() if isinstance(e.get("input"), dict)), {})
    faces = next((e["faces"] for e in entries.values() if e.get("faces")
                  and e.get("faces_mode") != "none"), [])
    return {"name": name, "kind": kind, "width": info.get("width"),
            "height": info.get("height"), **extra,
            "faces": [{"index": f["index"], "box": f["box"]} for f in faces],
            "detectors": entries, "verdict": overall(entries)}


def intake_failure(entries: dict[str, dict[str, Any]]) -> str | None:
    """The message when every detector refused the file for the file's own sake (corrupt,
    truncated, too small...): the request then fails with 422 instead of abstaining."""
    if entries and all(e.get("reason") in INTAKE_REASONS for e in entries.values()):
        return next(iter(entries.values()))["error"]
    return None
