"""Evidence bands per detector and the overall verdict, in words a non-expert can read.

Per detector, in this order (the first rule that applies decides):

1. it abstained (error, no face)                          -> ``uncertain``
2. ``in_distribution`` is false (OOD flag)               -> ``uncertain`` ("has not seen data
   like this")
3. epistemic uncertainty (mutual information, nats) > ``max_epistemic``  -> ``uncertain``
4. P(fake) >= ``high``                                    -> ``substantial`` evidence
5. P(fake) <= ``low``                                     -> ``little`` evidence
6. otherwise                                              -> ``uncertain`` (near even odds)

Overall: the common band when every detector gives the same one; ``uncertain`` when any
detector abstains or the bands differ, with the disagreement shown (the spread
``max - min`` of P(fake) and each detector's band). Never a bare yes/no.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

BANDS = ("little", "uncertain", "substantial")
WORDS = {"little": "little evidence of manipulation",
         "uncertain": "uncertain",
         "substantial": "substantial evidence of manipulation"}
SAYS = {"little": "finds little evidence", "uncertain": "cannot tell",
        "substantial": "finds substantial evidence"}


@dataclass(frozen=True)
class BandRule:
    low: float = 0.3
    high: float = 0.7
    max_epistemic: float = 0.05


def spread(passes: np.ndarray) -> list[float]:
    """The 10th and 90th percentiles of per-pass P(fake) ``(T,)``: the range the detector's own
    samples give (a single point for one deterministic pass)."""
    lo, hi = np.percentile(np.asarray(passes, dtype=np.float64), [10, 90])
    return [round(float(lo), 4), round(float(hi), 4)]


def band(result: dict[str, Any], rule: BandRule) -> tuple[str, str]:
    """``(band, plain-language explanation)`` of one detector's result (see the module doc)."""
    if "error" in result or result.get("p_fake") is None:
        return "uncertain", f"This detector abstained: {result.get('error', 'no score')}."
    p = float(result["p_fake"])
    if result.get("in_distribution") is False:
        why = result.get("ood_reason") or "outside its training data"
        return "uncertain", (f"This detector has not seen data like this ({why}); its P(fake) "
                             f"of {p:.2f} is not reliable here.")
    epi = float((result.get("uncertainty") or {}).get("epistemic", 0.0))
    rng = result.get("p_fake_range")
    if epi > rule.max_epistemic:
        span = f" (its samples range from {rng[0]:.2f} to {rng[1]:.2f})" if rng else ""
        return "uncertain", (f"This detector is unsure of itself{span}: it would need more "
                             "data like this to decide.")
    if p >= rule.high:
        return "substantial", (f"P(fake) is {p:.2f} and the detector is consistent about it: "
                               "substantial evidence of manipulation, by this detector's "
                               "standard.")
    if p <= rule.low:
        return "little", (f"P(fake) is {p:.2f} and the detector is consistent about it: little "
                          "evidence of manipulation. That is not proof the file is genuine.")
    return "uncertain", f"P(fake) is {p:.2f}, close to even odds: this detector cannot tell."


def overall(per_detector: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The verdict over detectors ``{key: result with "band"}`` (see the module doc)."""
    bands = {k: r["band"] for k, r in per_detector.items()}
    scored = {k: float(r["p_fake"]) for k, r in per_detector.items()
              if "error" not in r and r.get("p_fake") is not None}
    gap = round(max(scored.values()) - min(scored.values()), 4) if len(scored) > 1 else 0.0
    out: dict[str, Any] = {"bands": bands, "disagreement": gap}
    abstained = [k for k, r in per_detector.items() if "error" in r or r.get("p_fake") is None]
    kinds = set(bands.values())
    if not bands:
        out.update(band="uncertain", summary="No detector could score this file.")
    elif abstained:
        out.update(band="uncertain", summary=f"Uncertain: {', '.join(abstained)} abstained.")
    elif len(kinds) > 1:
        said = "; ".join(f"{k} {SAYS[b]} (P(fake) {scored[k]:.2f})" for k, b in bands.items())
        out.update(band="uncertain", summary=f"Uncertain: the detectors disagree — {said}.")
    else:
        (b,) = kinds
        if b == "uncertain":
            out.update(band=b, summary="Uncertain: no detector is confident here.")
        else:
            n = len(bands)
            who = "The detector finds" if n == 1 else f"All {n} detectors find"
            out.update(band=b, summary=f"{who} {WORDS[b]}.")
    return out
