"""How well the out-of-distribution flag works: the figures of docs/inference.md.

    python benchmarks/ood_flag.py [--out /tmp/ood-bench] [--identities 120] [--size 96]
                                  [--detector efficientnet_lite0] [--epochs 4] [--samples 16]

Builds a small SynthFaces benchmark (both domains), trains a detector on its *studio* images only
(train/val splits; the OOD statistics are fitted at the end of training), then scores with
``fakescope.detect`` (MC dropout of the head for epistemic uncertainty):

- in distribution: the studio test reals and fakes (as the detector was trained: whole images);
- a domain it never saw: every SynthFaces *phone* image (other backgrounds, light, camera);
- real photographs that ship with installed packages: the faces in scikit-image's
  ``astronaut`` and matplotlib's ``grace_hopper`` (found and aligned as in training; each also
  flipped, rescaled and JPEG-compressed, 8 variants per photo), and photos without a face scored
  whole (scikit-image ``camera``, ``chelsea``, ``coffee``, ``rocket``, ``motorcycle_left``,
  ``hubble_deep_field``; scikit-learn ``china``, ``flower``).

Prints the share flagged (in_distribution false) per set, and the AUROC of ``ood_score`` and of
epistemic uncertainty as detectors of each out-of-distribution set against the studio test set
(scikit-learn's roc_auc_score). Re-running reuses the benchmark and the training.
"""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image
from sklearn.metrics import roc_auc_score

from fakescope.config import load_config
from fakescope.data.manifest import read_manifest, resolve_path, write_manifest
from fakescope.data.synthfaces.build import build_benchmark
from fakescope.detect import DetectSession
from fakescope.train.run import fit_or_reuse


def real_photos() -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """(photos with a face, photos without one) from installed packages (no download)."""
    import matplotlib.cbook as cbook
    import skimage.data as sk
    import sklearn.datasets as skd

    with cbook.get_sample_data("grace_hopper.jpg") as f:
        grace = np.asarray(Image.open(f).convert("RGB"))
    faces = {"astronaut": sk.astronaut(), "grace_hopper": grace}
    gray = sk.camera()
    others = {"camera": np.stack([gray] * 3, -1), "chelsea": sk.chelsea(), "coffee": sk.coffee(),
              "rocket": sk.rocket(), "motorcycle": sk.stereo_motorcycle()[0],
              "hubble": sk.hubble_deep_field()}
    for name, img in zip(("china", "flower"), skd.load_sample_images().images, strict=True):
        others[name] = img
    return faces, others


def variants(img: np.ndarray) -> list[np.ndarray]:
    """The photo, flipped, at 0.75 and 1.5 scale, and JPEG q=60 of each (8 in all)."""
    import cv2

    out = []
    for flip in (False, True):
        base = img[:, ::-1] if flip else img
        for s in (1.0, 0.75, 1.5):
            if s != 1.0:
                base2 = cv2.resize(base, None, fx=s, fy=s, interpolation=cv2.INTER_AREA
                                   if s < 1 else cv2.INTER_LINEAR)
            else:
                base2 = np.ascontiguousarray(base)
            out.append(base2)
        buf = io.BytesIO()
        Image.fromarray(np.ascontiguousarray(base)).save(buf, "JPEG", quality=60)
        out.append(np.asarray(Image.open(buf).convert("RGB")))
    return out


def png(img: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(img)).save(buf, "PNG")
    return buf.getvalue()


def rows_of(results: list[dict]) -> pd.DataFrame:
    """One row per scored face: ood_score, in_distribution, epistemic, p_fake."""
    out = []
    for r in results:
        for f in r.get("faces", []):
            out.append({"path": r["path"], "ood_score": f["ood_score"],
                        "flagged": f["in_distribution"] is False,
                        "epistemic": f["uncertainty"]["epistemic"], "p_fake": f["p_fake"]})
    return pd.DataFrame(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("/tmp/ood-bench"))
    ap.add_argument("--identities", type=int, default=120)
    ap.add_argument("--images-per-identity", type=int, default=4)
    ap.add_argument("--size", type=int, default=96)
    ap.add_argument("--detector", default="efficientnet_lite0")
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--samples", type=int, default=16)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()

    data = a.out / "synthfaces"
    if not (data / "manifest.csv").is_file():
        build_benchmark(data, identities=a.identities, images_per_identity=a.images_per_identity,
                        size=a.size, seed=a.seed, workers=1)
    rows = read_manifest(data / "manifest.csv")
    studio = rows[rows["domain"] == "studio"]
    write_manifest(studio, data / "studio.csv")  # beside the images: paths resolve the same
    cfg = load_config(None, settings={
        "data.manifest": str(data / "studio.csv"), "data.image_size": a.size,
        "model.name": a.detector, "model.pretrained": a.detector == "efficientnet_lite0",
        "train.epochs": a.epochs, "train.batch_size": 32, "optim.lr": 2e-3,
        "train.seed": a.seed, "train.progress": False})
    run = fit_or_reuse(cfg, read_manifest(data / "studio.csv"), a.out / "run",
                       log=print)
    ckpt = run.out / "best"
    session = DetectSession.load(ckpt, uncertainty="mc_head", samples=a.samples, batch_size=64)
    print("checkpoint:", ckpt, "| OOD:", session.describe()["ood"])

    def score(paths_or_bytes, **kw) -> pd.DataFrame:
        return rows_of(list(session.iter_detect(paths_or_bytes, **kw)))

    test = studio[studio["split"] == "test"]
    sets = {
        "studio test real": score([str(resolve_path(rows, p)) for p in
                                   test.loc[test["label"] == 0, "path"]], faces="none"),
        "studio test fake": score([str(resolve_path(rows, p)) for p in
                                   test.loc[test["label"] == 1, "path"]], faces="none"),
        "phone (never seen), all": score([str(resolve_path(rows, p)) for p in
                                          rows.loc[rows["domain"] == "phone", "path"]],
                                         faces="none"),
    }
    faces, others = real_photos()
    sets["real photos: faces (2 x 8 variants)"] = score(
        [(f"{k}_{i}.png", png(v)) for k, img in faces.items() for i, v in enumerate(variants(img))])
    sets["real photos: no face, whole"] = score([(f"{k}.png", png(v)) for k, v in others.items()],
                                                faces="none")
    ind = pd.concat([sets["studio test real"], sets["studio test fake"]])
    lines = []
    for name, df in sets.items():
        line = {"set": name, "n": len(df), "flagged": df["flagged"].mean(),
                "median ood_score": df["ood_score"].median(),
                "median epistemic": df["epistemic"].median()}
        if not name.startswith("studio"):
            y = np.r_[np.zeros(len(ind)), np.ones(len(df))]
            line["AUROC ood_score"] = roc_auc_score(y, np.r_[ind["ood_score"], df["ood_score"]])
            line["AUROC epistemic"] = roc_auc_score(y, np.r_[ind["epistemic"], df["epistemic"]])
        lines.append(line)
    pd.set_option("display.width", 200)
    print(pd.DataFrame(lines).to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    for name in ("real photos: faces (2 x 8 variants)",):
        print(name, "p_fake median", round(float(sets[name]["p_fake"].median()), 3))


if __name__ == "__main__":
    main()
