"""The fairness-generalisation study on SynthFaces (``fakescope study fairness``).

Design (Ezeakunne et al.'s question, on controlled data):

* **train / val** — domain A (``studio``), *biased*: one skin-tone group and one age group are
  under-represented (``StudyConfig.bias``, default dark skin 10 % and seniors 10 %); real faces
  plus fakes of ``generators``; split by identity.
* **test A** — domain A, balanced groups, new identities (intra-domain).
* **test B** — domain B (``phone``), balanced groups, new identities (cross-domain).
* **methods** — ERM and each mitigation, one switch each (:class:`Switches`):
  ``synthetic`` (SBI fakes that balance group x label counts, :mod:`fakescope.data.balance`),
  ``sam`` (``optim.sam``), ``multitask`` (demographic head on ``skin_tone*age_group``, loss
  ``multitask``), ``reweight`` (loss ``group_reweight``), ``dro`` (loss ``dro``), and
  ``combined`` = synthetic + SAM + multi-task.
* **numbers** — per method and test domain: AUC with its bootstrap CI and every gap metric of
  :func:`fakescope.metrics.fairness.fairness_report` on the intersection ``skin_tone*age_group``
  (and per single attribute in ``gaps_all.csv``), with CIs; a per-group FPR/TPR plot; a report
  section whose text states, from the measured numbers, whether the combination lowers
  cross-domain F_FPR and F_OAE relative to ERM and at what AUC cost.

Every run folder is reused when complete (``train.resume``), so an interrupted study continues.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fakescope.config import TrainConfig
from fakescope.data.balance import balance_manifest
from fakescope.data.manifest import read_manifest, write_manifest
from fakescope.errors import ConfigError
from fakescope.metrics.fairness import (
    SATURATED_PR,
    FairnessReport,
    fairness_report,
    group_key,
)
from fakescope.models.registry import OFFLINE_PRETRAINED

GROUP_COLS = ("skin_tone", "age_group")
GROUP_COLUMN = "fair_group"  # intersection column used by the losses and the demographic head


@dataclass(frozen=True)
class Switches:
    """One flag per mitigation; ``Switches()`` is plain ERM."""

    synthetic: bool = False
    sam: bool = False
    multitask: bool = False
    reweight: bool = False
    dro: bool = False

    def __post_init__(self):
        if self.reweight and self.dro:
            raise ConfigError("reweight and dro are two losses; switch on one of them")
        if self.multitask and (self.reweight or self.dro):
            raise ConfigError("multitask uses its own loss; combine it with synthetic/sam only")


METHODS: dict[str, Switches] = {
    "erm": Switches(),
    "synthetic": Switches(synthetic=True),
    "sam": Switches(sam=True),
    "multitask": Switches(multitask=True),
    "reweight": Switches(reweight=True),
    "dro": Switches(dro=True),
    "combined": Switches(synthetic=True, sam=True, multitask=True),
}


@dataclass
class StudyConfig:
    identities: int = 48  # identities of the biased training pool (val takes a share)
    test_identities: int | None = None  # per test domain; default identities // 2
    images_per_identity: int = 4
    generators: list[str] = field(default_factory=lambda: ["face_swap", "sbi", "neural_texture"])
    epochs: int = 3
    detector: str = "resnet18"
    size: int = 64
    batch_size: int = 32
    lr: float = 1e-3
    seed: int = 0
    n_boot: int = 500
    min_group_size: int = 10
    device: str = "auto"
    methods: list[str] | None = None  # None = all of METHODS
    bias: dict[str, dict[str, float]] = field(default_factory=lambda: {
        "skin_tone": {"light": 0.45, "medium": 0.45, "dark": 0.10},
        "age_group": {"young": 0.45, "middle": 0.45, "senior": 0.10}})
    val_fraction: float = 0.2
    sam_rho: float = 0.05
    multitask_weight: float = 0.5
    grad_reverse: float = 0.0
    dro_alpha: float = 0.5
    progress: bool = True

    def method_names(self) -> list[str]:
        names = list(METHODS) if self.methods is None else list(self.methods)
        bad = [m for m in names if m not in METHODS]
        if bad:
            raise ConfigError(f"unknown method(s) {bad}", hint=f"use {', '.join(METHODS)}")
        return names


@dataclass
class StudyResult:
    table: pd.DataFrame  # one row per (method, domain): auc, ci, gaps, gap CIs
    report_path: Path
    verdict: dict[str, Any]

    def summary_text(self) -> str:
        cols = ["method", "domain", "auc", "F_FPR", "F_OAE", "F_DP", "F_MEO", "AUC_gap"]
        lines = [self.table[cols].to_string(index=False, float_format=lambda v: f"{v:.3f}")]
        lines.append(self.verdict.get("text", ""))
        return "\n".join(lines)


# ----------------------------------------------------------------------------- data
def _synth(out: Path, *, identities: int, images_per_identity: int, generators: list[str],
           domain: str, proportions: dict | None, size: int, seed: int,
           splits: tuple[float, float, float]) -> pd.DataFrame:
    """One SynthFaces build (reals + one fake per real) in ``out``; returns its manifest."""
    from fakescope.data.synthfaces.build import build_benchmark

    return build_benchmark(out, identities=identities, images_per_identity=images_per_identity,
                           generators=tuple(generators), domains=(domain,), size=size, seed=seed,
                           proportions=proportions, splits=splits)


def build_study_data(out: Path, cfg: StudyConfig, *, synth=None) -> pd.DataFrame:
    """Biased domain-A train/val + balanced test sets in domains A and B, one manifest.

    ``synth`` replaces the SynthFaces build (same keywords as :func:`_synth`; tests use it).
    """
    path = out / "data" / "manifest.csv"
    if path.is_file():
        return read_manifest(path)
    synth = synth or _synth
    n_test = cfg.test_identities or max(6, cfg.identities // 2)
    parts = []
    trainval = (1.0 - cfg.val_fraction, cfg.val_fraction, 0.0)
    specs = (("train", "studio", cfg.identities, cfg.bias, trainval, 0),
             ("test_a", "studio", n_test, None, (0.0, 0.0, 1.0), 1),
             ("test_b", "phone", n_test, None, (0.0, 0.0, 1.0), 2))
    for name, domain, n_id, props, splits, k in specs:
        df = synth(out / "data" / name, identities=n_id,
                   images_per_identity=cfg.images_per_identity, generators=cfg.generators,
                   domain=domain, proportions=props, size=cfg.size,
                   seed=cfg.seed * 1000 + 17 + k, splits=splits).copy()
        root = df.attrs.get("root", str(out / "data" / name))
        for col in ("path", "mask_path", "landmarks_path", "face_mask_path"):
            if col in df.columns:
                df[col] = [str(Path(root) / p) if isinstance(p, str) and p and
                           not Path(p).is_absolute() else p for p in df[col]]
        for col in ("sample_id", "video_id", "identity"):
            df[col] = f"{name}/" + df[col].astype(str)
        df["domain"] = domain
        df["eval_set"] = name
        parts.append(df)
    manifest = pd.concat(parts, ignore_index=True)
    manifest[GROUP_COLUMN] = group_key(manifest, list(GROUP_COLS))
    write_manifest(manifest, path)
    return read_manifest(path)


# ----------------------------------------------------------------------------- training
def train_config(cfg: StudyConfig, sw: Switches, n_groups: int) -> TrainConfig:
    """The training config of one method: each switch flips exactly one setting."""
    tc = TrainConfig()
    tc.data.image_size = cfg.size
    tc.data.group_column = GROUP_COLUMN
    tc.data.cache_images = True
    tc.model.name = cfg.detector
    tc.model.pretrained = cfg.detector in OFFLINE_PRETRAINED  # packaged weights, no hub
    tc.model.dropout = 0.0
    tc.optim.lr = cfg.lr
    tc.optim.sam = sw.sam
    tc.optim.sam_rho = cfg.sam_rho
    tc.train.epochs = cfg.epochs
    tc.train.batch_size = cfg.batch_size
    tc.train.seed = cfg.seed
    tc.train.device = cfg.device
    tc.train.progress = cfg.progress
    if sw.multitask:
        tc.model.heads = {"group": n_groups}
        tc.loss.name = "multitask"
        tc.loss.options = {"weight": cfg.multitask_weight, "head": "group",
                           "grad_reverse": cfg.grad_reverse}
    elif sw.reweight:
        tc.loss.name = "group_reweight"
        tc.loss.options = {"by_label": True}
    elif sw.dro:
        tc.loss.name = "dro"
        tc.loss.options = {"alpha": cfg.dro_alpha}
    return tc


def _balanced(out: Path, manifest: pd.DataFrame, cfg: StudyConfig, generator=None) -> pd.DataFrame:
    path = out / "data" / "balanced" / "manifest.csv"
    if path.is_file():
        return read_manifest(path)
    res = balance_manifest(manifest, out / "data" / "balanced", group_cols=list(GROUP_COLS),
                           split="train", seed=cfg.seed, progress=cfg.progress,
                           generator=generator)
    res.manifest[GROUP_COLUMN] = group_key(res.manifest, list(GROUP_COLS))
    write_manifest(res.manifest, path)
    return read_manifest(path)


def _train_and_score(out: Path, name: str, sw: Switches, manifest: pd.DataFrame,
                     cfg: StudyConfig) -> pd.DataFrame:
    from fakescope.data.dataset import ManifestDataset
    from fakescope.data.manifest import select_split
    from fakescope.train.recipe import train_from_config

    scores_path = out / "runs" / name / "test_scores.csv"
    if scores_path.is_file():
        return pd.read_csv(scores_path, dtype={"sample_id": str, "video_id": str})
    train_m = manifest[manifest["split"].isin(("train", "val"))].reset_index(drop=True)
    train_m.attrs = dict(manifest.attrs)
    tc = train_config(cfg, sw, int(train_m[GROUP_COLUMN].nunique()))
    engine, _, _ = train_from_config(tc, manifest=train_m, out_dir=out / "runs" / name)
    test_ds = ManifestDataset(select_split(manifest, "test"), image_size=cfg.size,
                              on_error="skip")
    scores = engine.predict(test_ds)
    scores.to_csv(scores_path, index=False)
    return scores


# ----------------------------------------------------------------------------- analysis
def _audit(scores: pd.DataFrame, cfg: StudyConfig) -> FairnessReport:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # small groups are listed in the report's warnings
        return fairness_report(scores, groups=["skin_tone", "age_group", "gender",
                                               "skin_tone*age_group"], intersect=False,
                               min_group_size=cfg.min_group_size, n_boot=cfg.n_boot,
                               seed=cfg.seed)


def _rows(method: str, domain: str, rep: FairnessReport) -> tuple[dict, list[dict], list[dict]]:
    inter = rep.groupings["skin_tone*age_group"]
    lo, hi = inter.overall.ci.get("auc", (np.nan, np.nan))
    row = {"method": method, "domain": domain, "n": inter.overall.n, "auc": inter.overall.auc,
           "auc_lo": lo, "auc_hi": hi, "pr": inter.overall.pr}
    for k, v in inter.gaps.items():
        row[k] = v
        row[f"{k}_lo"], row[f"{k}_hi"] = inter.gaps_ci.get(k, (np.nan, np.nan))
    gaps_all = [{"method": method, "domain": domain, **r}
                for r in rep.gaps_frame().to_dict("records")]
    groups = [{"method": method, "domain": domain, **r}
              for r in inter.groups_frame().to_dict("records")]
    return row, gaps_all, groups


def _plot(groups: pd.DataFrame, out: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    for domain, d in groups.groupby("domain", sort=False):
        methods = list(dict.fromkeys(d["method"]))
        names = sorted(d["group"].unique())
        fig, axes = plt.subplots(2, 1, figsize=(max(7, 0.9 * len(names) + 2), 6.5), sharex=True)
        width = 0.8 / max(1, len(methods))
        x = np.arange(len(names))
        for ax, rate in zip(axes, ("fpr", "tpr"), strict=True):
            for i, m in enumerate(methods):
                vals = d[d["method"] == m].set_index("group").reindex(names)[rate]
                ax.bar(x + (i - (len(methods) - 1) / 2) * width, vals, width, label=m)
            ax.set_ylabel(rate.upper())
            ax.set_ylim(0, 1)
            ax.grid(axis="y", alpha=0.3)
        axes[1].set_xticks(x, [n.replace("*", "\n") for n in names], fontsize=8)
        axes[0].legend(ncol=min(4, len(methods)), fontsize=8)
        axes[0].set_title(f"Per-group FPR / TPR (skin_tone x age_group), test domain {domain}")
        fig.tight_layout()
        p = out / "figures" / f"fairness_groups_{domain}.png"
        p.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(p, dpi=110)
        plt.close(fig)
        paths.append(str(p))
    return paths


def _verdict(table: pd.DataFrame) -> dict[str, Any]:
    t = table.set_index(["method", "domain"])
    if ("erm", "phone") not in t.index or ("combined", "phone") not in t.index:
        return {"text": "ERM or combined missing: no verdict."}
    e, c = t.loc[("erm", "phone")], t.loc[("combined", "phone")]
    d = {k: float(c[k] - e[k]) for k in ("F_FPR", "F_OAE", "auc")}
    reduced = d["F_FPR"] < 0 and d["F_OAE"] < 0
    sig = {k: bool(c[f"{k}_hi"] < e[f"{k}_lo"]) for k in ("F_FPR", "F_OAE")}
    text = (f"Cross-domain (phone), combined vs ERM: F_FPR {e['F_FPR']:.1f} -> {c['F_FPR']:.1f} "
            f"({d['F_FPR']:+.1f}), F_OAE {e['F_OAE']:.1f} -> {c['F_OAE']:.1f} "
            f"({d['F_OAE']:+.1f}), AUC {e['auc']:.3f} -> {c['auc']:.3f} ({d['auc']:+.3f}). "
            + ("Both gaps are lower" if reduced else "The combination does NOT lower both gaps")
            + (" and the 95% intervals do not overlap for "
               + ", ".join(k for k, v in sig.items() if v) if any(sig.values())
               else "; the bootstrap intervals overlap, so the difference is within noise")
            + ".")
    rates = {"erm": float(e["pr"]), "combined": float(c["pr"])}
    saturated = [m for m, pr in rates.items() if not 1 - SATURATED_PR < pr < SATURATED_PR]
    if saturated:
        called = ", ".join(f"{m} calls {rates[m]:.0%}" for m in saturated)
        text = (f"Caution: on the phone domain {called} of the test faces fake at the "
                "threshold, so F_FPR and F_OAE are near 0 by saturation, not fairness; judge by "
                "AUC_gap or a threshold set on the target domain. " + text)
    return {"reduced_both": reduced, "delta": d, "ci_separated": sig, "saturated": saturated,
            "meaningful": reduced and not saturated, "text": text}


def run_fairness_study(out_dir: str | Path, cfg: StudyConfig | None = None, *, synth=None,
                       generator=None) -> StudyResult:
    """Build the data, train every method, audit both test domains, write the report section.

    ``synth`` / ``generator`` replace the SynthFaces build and the SBI generator (tests only).
    """
    from fakescope.report import Report, Section

    cfg = cfg or StudyConfig()
    names = cfg.method_names()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "fairness_study_config.json").write_text(json.dumps(asdict(cfg), indent=2))
    manifest = build_study_data(out, cfg, synth=synth)
    balanced = None
    rows, gaps_all, groups = [], [], []
    for name in names:
        sw = METHODS[name]
        data = manifest
        if sw.synthetic:
            balanced = balanced if balanced is not None else _balanced(out, manifest, cfg, generator)
            data = balanced
        scores = _train_and_score(out, name, sw, data, cfg)
        for set_name, domain in (("test_a", "studio"), ("test_b", "phone")):
            sub = scores[scores["eval_set"] == set_name].reset_index(drop=True)
            row, ga, gr = _rows(name, domain, _audit(sub, cfg))
            rows.append(row)
            gaps_all += ga
            groups += gr
    table = pd.DataFrame(rows)
    groups_df = pd.DataFrame(groups)
    verdict = _verdict(table)
    figures = _plot(groups_df, out)
    train = manifest[manifest["split"] == "train"]
    composition = pd.crosstab(train[GROUP_COLUMN], train["label"]).reset_index()
    composition.columns = ["group", "real", "fake"]
    show = ["method", "domain", "auc", "auc_lo", "auc_hi"] + [
        c for k in ("F_FPR", "F_OAE", "F_DP", "F_MEO", "AUC_gap", "F_EFPR", "F_EO", "F_G")
        for c in (k, f"{k}_lo", f"{k}_hi")]
    text = (f"Biased SynthFaces training set in domain studio ({cfg.identities} identities; "
            f"under-represented: {json.dumps(cfg.bias)}), detector {cfg.detector} at "
            f"{cfg.size} px, {cfg.epochs} epoch(s), seed {cfg.seed}. Gaps (x100) over the "
            "skin_tone x age_group groups, 95% bootstrap intervals "
            f"({cfg.n_boot} resamples); intra-domain = studio test, cross-domain = phone test."
            f"\n\n{verdict['text']}")
    section = Section(key="fairness_study", title="Fairness generalisation study", text=text,
                      tables={"results": table[show], "groups": groups_df,
                              "gaps_all": pd.DataFrame(gaps_all),
                              "train_composition": composition},
                      figures=figures, numbers={"results": table.to_dict("records"),
                                                "verdict": verdict, "config": asdict(cfg)},
                      order=60)
    report_path = Report(out).add(section)
    table.to_csv(out / "fairness_study.csv", index=False)
    return StudyResult(table, report_path, verdict)


def tiny_config(**overrides) -> StudyConfig:
    """A configuration that runs in seconds (tests)."""
    base = StudyConfig(identities=12, test_identities=9, images_per_identity=2, epochs=1, size=32,
                       batch_size=16, n_boot=20, min_group_size=2, detector="resnet18",
                       device="cpu", progress=False, generators=["sbi"])
    return replace(base, **overrides)
