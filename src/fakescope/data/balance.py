"""Synthetic group balancing: self-blended fakes for under-represented groups.

The data-driven part of the fairness framework (Ezeakunne et al.): in the *training* split,
count rows per cell ``(group, label)``, where ``group`` is the intersection of the chosen
columns (e.g. ``skin_tone*age_group``). The target of every cell is the largest cell count
``T``. Then, for every group ``g``:

* fakes: ``T - n_fake(g)`` new self-blended images (``create_generator("sbi")``) are made from
  the group's own *real training* faces (cycled in a seeded order), so the group's fake count
  reaches ``T`` and no test/val face is ever used;
* reals: SBI cannot make new real faces; with ``real_strategy="oversample"`` (default) real rows
  of the group are repeated (seeded, as evenly as possible) until ``n_real(g) = T``, with
  ``"keep"`` reals are left as they are (only fake counts are balanced).

Each new fake needs its source face's landmarks, read from the ``landmarks_path`` column
(``.npy`` / ``.npz`` / ``.json`` / ``.csv`` / ``.txt`` of 68 (x, y) points), so it works on
SynthFaces and on real aligned crops alike. New rows keep the group columns, ``identity``,
``domain`` and ``landmarks_path`` of their source, get ``source="sbi"``, a unique
``video_id`` and ``balance_origin`` = the source ``sample_id``. Bad source images are skipped,
counted, and written to ``skipped.csv``; images already written are reused, so a partial run
completes when run again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from fakescope.data.images import load_image, save_image
from fakescope.data.manifest import resolve_path, validate_manifest, write_manifest
from fakescope.errors import ConfigError, DataError
from fakescope.metrics.fairness import group_key

REAL_STRATEGIES = ("oversample", "keep")


@dataclass
class BalancePlan:
    """How many rows each group needs. ``counts`` has one row per group with columns
    ``group, n_real, n_fake, add_fake, add_real`` (``target`` = the common cell count)."""

    group_cols: list[str]
    target: int
    counts: pd.DataFrame

    @property
    def n_new_fakes(self) -> int:
        return int(self.counts["add_fake"].sum())


@dataclass
class BalanceResult:
    manifest: pd.DataFrame
    plan: BalancePlan
    written: int = 0
    reused: int = 0
    skipped: list[dict] = field(default_factory=list)
    manifest_path: Path | None = None


def plan_balance(manifest: pd.DataFrame, *, group_cols: list[str], split: str = "train",
                 real_strategy: str = "oversample") -> BalancePlan:
    """Count ``(group, label)`` cells in ``split`` and what each group needs to reach ``T``."""
    if real_strategy not in REAL_STRATEGIES:
        raise ConfigError(f"real_strategy {real_strategy!r}",
                          hint=f"use one of {', '.join(REAL_STRATEGIES)}")
    origin = manifest.attrs.get("origin", "<manifest>")
    missing = [c for c in group_cols if c not in manifest.columns]
    if missing:
        raise DataError(f"no group column(s) {', '.join(missing)}", path=origin)
    train = manifest[manifest["split"] == split]
    if train.empty:
        raise DataError(f"no rows in split {split!r}", path=origin)
    key = group_key(train, group_cols)
    if key.isna().any():
        raise DataError(f"{int(key.isna().sum())} {split} row(s) have no value for "
                        f"{'*'.join(group_cols)}", path=origin,
                        hint="fill the group columns or drop those rows")
    table = pd.crosstab(key, train["label"]).reindex(columns=[0, 1], fill_value=0)
    table.columns = ["n_real", "n_fake"]
    no_real = table.index[table["n_real"] == 0].tolist()
    if no_real:
        raise DataError(f"group(s) {no_real} have no real {split} faces to blend", path=origin)
    target = int(table.to_numpy().max())
    counts = pd.DataFrame({"group": table.index.astype(str), "n_real": table["n_real"].to_numpy(),
                           "n_fake": table["n_fake"].to_numpy()})
    counts["add_fake"] = target - counts["n_fake"]
    counts["add_real"] = (target - counts["n_real"]) if real_strategy == "oversample" else 0
    return BalancePlan(list(group_cols), target, counts.sort_values("group").reset_index(drop=True))


def load_landmarks(path: str | Path) -> np.ndarray:
    """Landmarks ``(K, 2)`` float from ``.npy``, ``.npz`` (first array), ``.json``, ``.csv``/``.txt``."""
    path = Path(path)
    if not path.is_file():
        raise DataError("landmarks file not found", path=path)
    try:
        suf = path.suffix.lower()
        if suf == ".npy":
            pts = np.load(path, allow_pickle=False)
        elif suf == ".npz":
            with np.load(path, allow_pickle=False) as z:
                pts = z["landmarks"] if "landmarks" in z else z[z.files[0]]
        elif suf == ".json":
            data = json.loads(path.read_text())
            pts = np.asarray(data["landmarks"] if isinstance(data, dict) else data, float)
        else:
            pts = np.loadtxt(path, delimiter="," if suf == ".csv" else None)
    except Exception as exc:
        raise DataError(f"cannot read landmarks: {exc}", path=path) from exc
    pts = np.asarray(pts, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[1] != 2 or pts.shape[0] < 5:
        raise DataError(f"landmarks must be (K, 2) points, got shape {pts.shape}", path=path)
    return pts


def _default_generator():
    from fakescope.data.generators.base import create_generator

    return create_generator("sbi")


def _run_generator(gen, image: np.ndarray, landmarks: np.ndarray, rng: np.random.Generator):
    """Call a generator and return ``(fake uint8 (H, W, 3), mask float/uint8 (H, W))``."""
    out = gen(image, landmarks, rng=rng)
    if isinstance(out, dict):
        return out["image"], out.get("mask")
    if isinstance(out, tuple):
        return out[0], out[1] if len(out) > 1 else None
    return out.image, getattr(out, "mask", None)


def balance_manifest(manifest: pd.DataFrame, out_dir: str | Path, *, group_cols: list[str],
                     split: str = "train", real_strategy: str = "oversample", seed: int = 0,
                     generator=None, image_format: str = "png",
                     progress: bool = True) -> BalanceResult:
    """Write SBI fakes (and repeated reals) that balance ``(group, label)`` counts in ``split``.

    Args:
        manifest: validated manifest (``attrs["root"]`` resolves relative paths); needs the
            group columns and, for the real rows used as sources, ``landmarks_path``.
        out_dir: new images go to ``out_dir/images``, masks to ``out_dir/masks``; the extended
            manifest (all original rows + new rows, absolute paths) to
            ``out_dir/manifest.csv``.
        generator: a callable ``gen(image, landmarks, rng=...)`` returning the fake and its
            mask (default ``create_generator("sbi")``).

    Returns a :class:`BalanceResult` with the extended manifest.
    """
    # Absolute: the new rows' paths are written as they are, and a relative folder would be
    # joined to the manifest's own folder a second time when it is read back.
    out = Path(out_dir).resolve()
    plan = plan_balance(manifest, group_cols=group_cols, split=split, real_strategy=real_strategy)
    if plan.n_new_fakes and "landmarks_path" not in manifest.columns:
        raise DataError("no landmarks_path column: SBI needs each real face's landmarks",
                        path=manifest.attrs.get("origin", "<manifest>"),
                        hint="align faces first (fakescope data faces) or use SynthFaces")
    gen = generator if generator is not None else _default_generator()
    base = manifest.copy()
    base["path"] = [str(resolve_path(manifest, p)) for p in manifest["path"]]
    if "landmarks_path" in base.columns:
        base["landmarks_path"] = [str(resolve_path(manifest, p)) if isinstance(p, str) and p
                                  else p for p in base["landmarks_path"]]
    key = group_key(base, group_cols)
    is_src = (base["split"] == split) & (base["label"] == 0)
    new_rows: list[dict] = []
    skipped: list[dict] = []
    written = reused = 0
    for gi, row in plan.counts.iterrows():
        g = row["group"]
        reals = base[is_src & (key == g)]
        order = np.random.default_rng([seed, 11, gi]).permutation(len(reals))
        if row["add_real"] > 0:
            reps = np.resize(order, int(row["add_real"]))
            for j, r in enumerate(reps):
                src = reals.iloc[int(r)].to_dict()
                new_rows.append({**src, "sample_id": f"{src['sample_id']}__rep{j}",
                                 "video_id": f"{src['video_id']}__rep{j}",
                                 "balance_origin": src["sample_id"]})
        need, attempts, k = int(row["add_fake"]), 0, 0
        bad: set[int] = set()  # sources that failed once are not tried again
        bar = tqdm(total=need, desc=f"sbi {g}", leave=False, disable=not progress or need == 0)
        while k < need:
            if len(bad) == len(reals):
                out.mkdir(parents=True, exist_ok=True)
                pd.DataFrame(skipped).to_csv(out / "skipped.csv", index=False)
                raise DataError(f"group {g}: only {k} of {need} SBI fakes could be made; every "
                                "real source failed", hint=f"see {out / 'skipped.csv'}")
            pick = int(order[attempts % len(reals)])
            attempts += 1
            if pick in bad:
                continue
            src = reals.iloc[pick].to_dict()
            sid = f"sbi_bal_{gi:02d}_{k:05d}"
            img_path = out / "images" / f"{sid}.{image_format}"
            mask_path = out / "masks" / f"{sid}.png"
            try:
                if img_path.is_file() and mask_path.is_file():
                    reused += 1
                else:
                    image = load_image(src["path"])
                    lms = load_landmarks(src["landmarks_path"])
                    rng = np.random.default_rng([seed, 13, gi, k])
                    fake, mask = _run_generator(gen, image, lms, rng)
                    if mask is None:
                        mask = np.zeros(fake.shape[:2])
                    m = np.asarray(mask, dtype=np.float64)
                    m = (np.clip(m if m.max() > 1 else m * 255, 0, 255)).astype(np.uint8)
                    save_image(mask_path, np.repeat(m[..., None], 3, axis=2))
                    save_image(img_path, np.asarray(fake, dtype=np.uint8))
                    written += 1
            except DataError as exc:
                bad.add(pick)
                skipped.append({"source_sample_id": src["sample_id"], "error": str(exc)})
                continue
            new_rows.append({**src, "sample_id": sid, "path": str(img_path), "label": 1,
                             "source": "sbi", "video_id": f"sbi_bal/{src['video_id']}/{k}",
                             "frame": 0, "mask_path": str(mask_path),
                             "balance_origin": src["sample_id"]})
            k += 1
            bar.update(1)
        bar.close()
    ext = pd.concat([base, pd.DataFrame(new_rows)], ignore_index=True) if new_rows else base
    if "balance_origin" in ext.columns:
        ext["balance_origin"] = ext["balance_origin"].fillna("")
    ext = validate_manifest(ext, origin=str(out / "manifest.csv"))
    out.mkdir(parents=True, exist_ok=True)
    path = write_manifest(ext, out / "manifest.csv")
    if skipped:
        pd.DataFrame(skipped).to_csv(out / "skipped.csv", index=False)
    plan.counts.to_csv(out / "balance_plan.csv", index=False)
    ext.attrs["root"] = str(out.resolve())
    return BalanceResult(ext, plan, written, reused, skipped, path)
