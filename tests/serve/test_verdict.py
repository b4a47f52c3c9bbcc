import numpy as np

from fakescope.serve.verdict import BandRule, band, overall, spread

RULE = BandRule(low=0.3, high=0.7, max_epistemic=0.05)


def r(p, epi=0.0, **kw):
    return {"p_fake": p, "uncertainty": {"epistemic": epi}, **kw}


def test_band_rules_in_order():
    assert band(r(0.9), RULE)[0] == "substantial"
    assert band(r(0.1), RULE)[0] == "little"
    assert band(r(0.5), RULE)[0] == "uncertain"
    b, why = band(r(0.95, in_distribution=False, ood_reason="no face"), RULE)
    assert b == "uncertain" and "not seen data like this" in why and "no face" in why
    b, why = band(r(0.95, epi=0.2, p_fake_range=[0.3, 0.99]), RULE)
    assert b == "uncertain" and "0.30" in why
    b, why = band({"error": "no face found"}, RULE)
    assert b == "uncertain" and "abstained" in why


def test_overall_is_uncertain_on_disagreement_or_abstention_never_bare():
    a = {**r(0.9), "band": "substantial"}
    b = {**r(0.1), "band": "little"}
    v = overall({"a": a, "b": b})
    assert v["band"] == "uncertain" and v["disagreement"] == 0.8
    assert "disagree" in v["summary"] and "a finds substantial" in v["summary"]
    v = overall({"a": a, "b": {"error": "x", "band": "uncertain"}})
    assert v["band"] == "uncertain" and "b abstained" in v["summary"]
    v = overall({"a": a, "b": {**r(0.8), "band": "substantial"}})
    assert v["band"] == "substantial" and "All 2 detectors" in v["summary"]


def test_spread_percentiles():
    assert spread(np.array([0.5])) == [0.5, 0.5]
    lo, hi = spread(np.linspace(0, 1, 101))
    assert abs(lo - 0.1) < 1e-9 and abs(hi - 0.9) < 1e-9
