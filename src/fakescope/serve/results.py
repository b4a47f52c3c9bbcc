"""Per-file answers: every detector's result side by side, each with its band, and the verdict.

A detector's entry is the object ``fakescope detect --json`` prints for the file (``path`` is
the uploaded name, a display string only; ``kind``, ``p_fake``, ``verdict`` at ``threshold``,
``uncertainty``), plus the service's fields: ``detector``, ``version``, ``p_fake_range`` (10th
and 90th percentile of P(fake) over the stochastic passes), ``in_distribution`` and
``ood_reason``, ``band`` and ``explanation`` (:mod:`fakescope.serve.verdict`), and ``maps``
(overlay PNG data URLs) when asked for.

``in_distribution`` here: false with reason ``too small`` when the image's shorter side is under
half the detector's input size (it would be upscaled more than 2x); otherwise the checkpoint's
own OOD flag when the detect layer reports one, else null (unknown).
"""

from __future__ import annotations

from typing import Any

from fakescope.serve.detectors import LoadedDetector
from fakescope.serve.metrics import ServiceMetrics
from fakescope.serve.verdict import BandRule, band, overall


def size_check(det: LoadedDetector, height: int, width: int) -> tuple[bool | None, str | None]:
    if min(height, width) * 2 < det.image_size:
        return False, (f"too small: {width} x {height} px, under half of the detector's "
                       f"{det.image_size} px input")
    return None, None


def detector_entry(det: LoadedDetector, name: str, kind: str, found: dict[str, Any], *,
                   threshold: float, rule: BandRule, in_distribution: bool | None = None,
                   ood_reason: str | None = None) -> dict[str, Any]:
    """One detector's result for one file (see the module doc)."""
    r: dict[str, Any] = {"path": name, "kind": kind}
    if "error" in found:
        r["error"] = found["error"]
    else:
        r.update(p_fake=found["p_fake"],
                 verdict="fake" if found["p_fake"] >= threshold else "real")
        r.update({k: v for k, v in found.items() if k != "p_fake"})
        if in_distribution is not None or "in_distribution" not in r:
            r["in_distribution"] = in_distribution
        if ood_reason is not None or "ood_reason" not in r:
            r["ood_reason"] = ood_reason
    r["detector"], r["version"] = det.key, det.version
    r["band"], r["explanation"] = band(r, rule)
    return r


def file_answer(name: str, kind: str, entries: dict[str, dict[str, Any]],
                metrics: ServiceMetrics | None = None, **extra: Any) -> dict[str, Any]:
    """``{"name", "kind", ...extra, "detectors": {key: entry}, "verdict": overall}``; counts
    bands, abstentions and OOD flags into ``metrics``."""
    if metrics is not None:
        for key, e in entries.items():
            metrics.results.inc(detector=key, band=e["band"])
            if "error" in e:
                metrics.abstained.inc(detector=key, reason=_reason(e["error"]))
            elif e.get("in_distribution") is False:
                metrics.ood.inc(detector=key)
    return {"name": name, "kind": kind, **extra, "detectors": entries,
            "verdict": overall(entries)}


def _reason(error: str) -> str:
    e = error.lower()
    if "no face" in e:
        return "no_face"
    if "too small" in e:
        return "too_small"
    return "error"
