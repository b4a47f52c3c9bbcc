"""The study's outputs: tables, heat maps, ``study.json`` and the "Uncertainty" report section."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from fakescope.experiments.uncertainty.progress import TABLES, DetectorResults
from fakescope.report import Report, Section
from fakescope.report.jsonable import jsonable, write_json
from fakescope.report.plots import heatmap
from fakescope.uncertainty.maps import localisation_by_generator

TEXT = (
    "Each detector is trained on the train split (checkpoint chosen on validation) and "
    "scored on the test split with every uncertainty method. total = predictive "
    "entropy H[mean_t p_t], aleatoric = mean_t H[p_t], epistemic = total - aleatoric "
    "(mutual information), variance = Var_t P(fake); natural log, so the maximum for "
    "real/fake is log 2 = 0.693.\n\n"
    "Heat maps cross detectors with generators (AUC of that generator's fakes against "
    "the reals, and mean epistemic uncertainty). Leave-one-generator-out trains without "
    "a generator and tests on it: a lower AUC and a higher epistemic uncertainty on the "
    "unseen generator than on the seen ones is the expected signature. Source "
    "attribution predicts real or the generator from uncertainty features (balanced "
    "accuracy; chance = 1 / #sources). Robustness rows with wrong_confident > 0 are the "
    "dangerous case: misclassified under attack with uncertainty below the clean median.")


CLIP_TEXT = (
    "\n\nOn this video manifest every detector answers per clip: a blind detector scores "
    "evenly spaced face frames, a biological one (ppg_map, motion_map) the windows of its "
    "signal maps, and a clip's probability in each pass is the mean over its frames or "
    "windows, so its epistemic part is the passes' disagreement about the clip for both "
    "families. Robustness and pixel maps are image experiments and are not run.")


def study_tables(results: dict[str, DetectorResults], source: pd.DataFrame | None,
                 skipped: dict[str, str]) -> dict[str, pd.DataFrame]:
    """Every non-empty table of :data:`~.progress.TABLES` over the detectors (in their order),
    then ``source_attribution``, ``localisation_by_generator`` and ``skipped``."""
    tables = {}
    for name in TABLES:
        rows = [r for res in results.values() for r in res.tables[name]]
        if rows:
            tables[name] = pd.DataFrame(rows)
    if source is not None:
        tables["source_attribution"] = source
    loc = tables.get("localisation")
    if loc is not None and any(c.startswith("auc_") for c in loc.columns):
        tables["localisation_by_generator"] = pd.concat(
            [localisation_by_generator(g).assign(detector=d) for d, g in loc.groupby("detector")],
            ignore_index=True)
    if skipped:
        tables["skipped"] = pd.DataFrame({"path": list(skipped), "error": list(skipped.values())})
    return tables


def heat_maps(tables: dict[str, pd.DataFrame], attribution: dict, fdir: Path) -> list[Path]:
    """Detector/method x generator heat maps of AUC and epistemic uncertainty, the LOGO AUC on
    the held-out generator, and the confusion matrices of the source attribution."""
    figs = []
    pg = tables.get("per_generator")
    if pg is not None:
        for col, cmap in (("auc", "viridis"), ("epistemic", "magma")):
            piv = pg.pivot_table(index=["detector", "method"], columns="generator", values=col,
                                 sort=False)
            piv.index = [f"{d} / {m}" for d, m in piv.index]
            figs.append(heatmap(piv, fdir / f"heatmap_{col}.png",
                                title=f"{col}: detector / method x generator",
                                fmt=".3f" if col != "auc" else ".2f", cmap=cmap))
    logo = tables.get("logo")
    if logo is not None:
        piv = logo.pivot(index="detector", columns="generator", values="auc_unseen")
        figs.append(heatmap(piv, fdir / "heatmap_logo_auc_unseen.png",
                            title="AUC on the held-out generator"))
    for name, r in attribution.items():
        if name.startswith("uncertainty (all") or name.startswith("end_to_end/"):
            safe = name.split("/")[0].replace(" ", "_").replace("(", "").replace(")", "")
            tag = name.split("/")[-1] if "/" in name else ""
            figs.append(heatmap(r.confusion, fdir / f"confusion_{safe}_{tag}.png",
                                title=f"confusion: {name}", fmt=".0f", cmap="Blues"))
    return figs


def headline_numbers(tables: dict[str, pd.DataFrame], *, seconds: float, config: dict,
                     generators: list[str], n_test: int) -> dict[str, Any]:
    """``study.json``: AUC and epistemic uncertainty per ``detector/method``, LOGO means (AUC
    unseen / seen, epistemic unseen - seen), source balanced accuracy per feature set, and the
    share of attacked-but-confident images."""
    out: dict[str, Any] = {"seconds": seconds, "config": config, "generators": generators,
                           "n_test": n_test}
    if "summary" in tables:
        s = tables["summary"]
        out["auc"] = {f"{r.detector}/{r.method}": r.auc for r in s.itertuples()}
        out["epistemic"] = {f"{r.detector}/{r.method}": r.epistemic for r in s.itertuples()}
    if "logo" in tables:
        lg = tables["logo"]
        out["logo_mean_auc_unseen"] = float(lg["auc_unseen"].mean())
        out["logo_mean_auc_seen"] = float(lg["auc_seen"].mean())
        out["logo_epistemic_unseen_minus_seen"] = float(
            (lg["epistemic_unseen"] - lg["epistemic_seen"]).mean())
    if "source_attribution" in tables:
        t = tables["source_attribution"]
        out["source_balanced_accuracy"] = {f"{r.features}/{r.classifier}": r.balanced_accuracy
                                           for r in t.itertuples()}
    if "robustness" in tables:
        r = tables["robustness"]
        adv = r[r["kind"].isin(["fgsm", "pgd"]) & (r["strength"] > 0)]
        out["attacked_but_confident"] = (float(adv["wrong_confident"].mean()) if len(adv)
                                         else float("nan"))
    return out


def write_report(out: Path, tables: dict[str, pd.DataFrame], figures: list[Path],
                 numbers: dict[str, Any], *, extra_text: str = "") -> None:
    """``study.json`` and the "Uncertainty" section of ``report.html`` (tables as CSV in
    ``tables/uncertainty__<name>.csv``); ``extra_text`` is appended to the section's text."""
    write_json(numbers, out / "study.json")
    unit = numbers.get("unit", "image")
    text = (f"{TEXT}{CLIP_TEXT if unit == 'clip' else ''}\n\nGenerators: "
            f"{', '.join(numbers['generators'])}; {numbers['n_test']} test {unit}s; "
            f"{numbers['seconds']:.0f} s.")
    if extra_text:
        text += "\n\n" + extra_text
    Report(out).add(Section("uncertainty", "Uncertainty: detectors x generators", text=text,
                            tables=tables, figures=[str(f) for f in figures],
                            numbers=jsonable(numbers), order=40))
