"""The demo's report sections: the benchmark it built and the detectors' detection metrics.

Every function reads the manifest or the detectors' test scores tables (``{detector: scores}``,
see :mod:`fakescope.scores`) and returns a :class:`~fakescope.report.Section`; nothing here
trains or scores.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import pandas as pd

from fakescope.data.images import load_image
from fakescope.data.manifest import resolve_path
from fakescope.metrics.detection import average_precision, bootstrap_ci, detection_metrics, roc_auc
from fakescope.models.registry import OFFLINE_PRETRAINED
from fakescope.report import Section
from fakescope.report.plots import grouped_bars, heatmap, image_grid, roc_plot


def evaluation_subsets(test: pd.DataFrame, cfg) -> dict[str, pd.DataFrame]:
    """The evaluation subsets of test rows (or their scores), by name: in-domain = training
    domain, reals + seen generators; cross-generator = training domain, reals + held-out
    generators; cross-domain = the other domain, reals + seen generators."""
    real = test["label"] == 0
    held = test["source"].isin(cfg.held_out)
    dom_a = test["domain"] == cfg.train_domain
    dom_b = test["domain"] == cfg.test_domain
    return {
        "in-domain": test[dom_a & (real | ~held)],
        "cross-generator": test[dom_a & (real | held)],
        "cross-domain": test[dom_b & (real | ~held)],
    }


def benchmark_section(manifest: pd.DataFrame, out: Path, cfg) -> Section:
    """Counts by domain/split/source, and one real, its fake and the fake's mask per generator."""
    counts = (manifest.groupby(["domain", "split", "source"]).size()
              .unstack("source", fill_value=0).reset_index())
    gens = [g for g in manifest["source"].unique() if g != "real"]
    rows, labels = [], []
    for g in gens:
        fake = manifest[manifest["source"] == g].iloc[0]
        real = manifest[manifest["pair_id"] == fake["pair_id"]] if "pair_id" in manifest else None
        real = real[real["label"] == 0].iloc[0] if real is not None and len(real) else None
        mask = load_image(resolve_path(manifest, fake["mask_path"]))[..., 0]
        rows.append([None if real is None else load_image(resolve_path(manifest, real["path"])),
                     load_image(resolve_path(manifest, fake["path"])), mask])
        labels.append(g + ("\n(held out)" if g in cfg.held_out else ""))
    grid = image_grid([list(r) for r in zip(*rows, strict=True)], out / "figures" / "samples.png",
                      row_labels=["real", "fake", "mask"], col_labels=labels,
                      title="SynthFaces: a real image, its fake and the fake's mask, per generator")
    groups = {c: manifest[manifest["label"] == 0][c].value_counts().to_dict()
              for c in ("skin_tone", "gender", "age_group") if c in manifest}
    return Section(
        "benchmark", "SynthFaces benchmark",
        text=(f"{len(manifest)} images ({(manifest['label'] == 0).sum()} real, "
              f"{(manifest['label'] == 1).sum()} fake) of {manifest['identity'].nunique()} "
              f"identities rendered at {cfg.render_size} px in domains "
              f"{', '.join(sorted(manifest['domain'].unique()))}; splits are by identity. "
              "Every real image has one fake; each fake's mask shows the pixels its generator "
              "changed."),
        tables={"counts": counts}, figures=[str(grid)],
        numbers={"n_images": len(manifest), "groups_of_real_images": groups}, order=10)


def metrics_row(name: str, setting: str, s: pd.DataFrame, cfg) -> dict:
    """Detection metrics of one detector on one subset, AUC with its bootstrap interval."""
    m = detection_metrics(s["label"], s["p_fake"]).to_dict()
    lo, hi = bootstrap_ci(roc_auc, s["label"], s["p_fake"], n_boot=cfg.n_boot, seed=cfg.seed)
    return {"detector": name, "setting": setting, "n": m["n"], "auc": m["auc"], "auc_lo": lo,
            "auc_hi": hi, "eer": m["eer"], "ap": average_precision(s["label"], s["p_fake"]),
            "acc": m["acc"], "real_acc": m["real_acc"], "fake_acc": m["fake_acc"]}


def per_generator(name: str, scores: pd.DataFrame) -> list[dict]:
    """AUC of each generator's fakes against the reals of the same domain."""
    out = []
    for dom, part in scores.groupby("domain"):
        real = part[part["label"] == 0]
        for g, fakes in part[part["label"] == 1].groupby("source"):
            both = pd.concat([real, fakes])
            out.append({"detector": name, "domain": dom, "generator": g,
                        "auc": roc_auc(both["label"], both["p_fake"])})
    return out


def _flatten_columns(wide: pd.DataFrame) -> pd.DataFrame:
    """``(detector, domain)`` column pairs -> ``detector · domain``, index as a column."""
    wide = wide.copy()
    wide.columns = [" · ".join(map(str, c)) for c in wide.columns]
    return wide.reset_index()


def detection_section(scores: dict[str, pd.DataFrame], out: Path, cfg) -> Section:
    """Metrics of every detector in every evaluation subset, ROC curves and per-generator AUC."""
    rows, gen_rows, curves = [], [], {}
    for name, s in scores.items():
        for setting, part in evaluation_subsets(s, cfg).items():
            rows.append(metrics_row(name, setting, part, cfg))
            curves[f"{name} · {setting}"] = (part["label"].to_numpy(), part["p_fake"].to_numpy())
        gen_rows += per_generator(name, s)
    table = pd.DataFrame(rows)
    gens = pd.DataFrame(gen_rows)
    figs = [roc_plot(curves, out / "figures" / "roc.png", title="ROC by detector and setting"),
            grouped_bars(table, out / "figures" / "auc_by_setting.png", index="setting",
                         columns="detector", values="auc", title="AUC by evaluation setting")]
    for name in scores:
        g = gens[gens["detector"] == name].pivot_table(index="generator", columns="domain",
                                                       values="auc")
        figs.append(heatmap(g, out / "figures" / f"per_generator_{name}.png",
                            title=f"{name}: AUC per generator\n(held out in training: "
                                  f"{', '.join(cfg.held_out)})",
                            vmin=0.5, vmax=1.0))
    return Section(
        "detection", "Detection: in-domain, cross-generator, cross-domain",
        text=(f"Each detector is trained on the {cfg.train_domain} domain without the "
              f"generators {', '.join(cfg.held_out)} (checkpoint chosen on validation), then "
              f"tested on seen generators (in-domain), on the held-out generators "
              f"(cross-generator) and on the {cfg.test_domain} domain (cross-domain). "
              f"AUC with {cfg.n_boot}-resample bootstrap 95% intervals. "
              + ("Detectors in " + ", ".join(OFFLINE_PRETRAINED) + " start from ImageNet "
                 "weights shipped in a package; the others train from scratch on a few hundred "
                 "faces, which on a CPU budget leaves them close to chance — the separability "
                 "study asks how much a pre-trained backbone brings.")),
        tables={"metrics": table,
                "per_generator_auc": gens.pivot_table(index="generator",
                                                      columns=["detector", "domain"],
                                                      values="auc").pipe(_flatten_columns)},
        figures=[str(f) for f in figs],
        numbers={"config": asdict(cfg), "metrics": rows}, order=20)
