"""Model cards (``GET /models``): what each detector is, what it saw, and where it is blind.

Everything comes from the checkpoint's ``meta.json`` (architecture, preprocessing, training
config, validation metrics, and the training-data summary and OOD model when the checkpoint
records them) and, when the training manifest is still on this machine, from its training
split (sources / generators and domains seen, with counts). Nothing is invented: a field the
checkpoint does not record says so.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

WEAK_AUC = 0.8


def _training_data(meta: dict[str, Any]) -> dict[str, Any]:
    """Datasets, sources and counts of the training split: the checkpoint's own summary when it
    has one, else read from the training manifest when it is on this machine."""
    recorded = meta.get("data_summary") or meta.get("training_data")
    if isinstance(recorded, dict):
        out = {"recorded_in": "checkpoint", **recorded}
        for key, name in (("sources", "sources_seen"), ("domains", "domains_seen")):
            if isinstance(recorded.get(key), dict):
                out[name] = recorded[key]
        return out
    data = (meta.get("training") or {}).get("data") or {}
    manifest = data.get("manifest")
    out: dict[str, Any] = {"manifest": manifest, "train_split": data.get("train_split", "train")}
    if not manifest or not Path(manifest).is_file():
        out["note"] = ("the checkpoint does not record its training data and the manifest is "
                       "not on this machine: sources seen are unknown")
        return out
    try:
        from fakescope.data.manifest import read_manifest

        df = read_manifest(manifest)
    except Exception as exc:  # a card is informative; a broken manifest must not stop serving
        out["note"] = f"the training manifest could not be read ({exc})"
        return out
    if "split" in df.columns:
        df = df[df["split"] == out["train_split"]]
    out["recorded_in"] = "training manifest"
    out["images"] = int(len(df))
    if "label" in df.columns:
        out["real"] = int((df["label"] == 0).sum())
        out["fake"] = int((df["label"] != 0).sum())
    for col, key in (("source", "sources_seen"), ("domain", "domains_seen"),
                     ("dataset", "datasets")):
        if col in df.columns:
            out[key] = {str(k): int(v) for k, v in df[col].value_counts().items()}
    return out


def _blind_spots(det, data: dict[str, Any], metrics: dict[str, Any]) -> list[str]:
    spots = []
    size = det.image_size
    spots.append(f"Its input is {size} x {size} px: detail finer than that is lost, and each "
                 "face (or whole image) is resized to it.")
    sources = data.get("sources_seen")
    if sources:
        fakes = sorted(s for s in sources if s != "real")
        spots.append("Generators seen in training: " + (", ".join(fakes) or "none")
                     + ". Any other manipulation method is unseen; its scores are not "
                     "validated.")
    else:
        spots.append("The generators it saw in training are not recorded.")
    if "synthfaces" in str(data.get("manifest", "")).lower() or "synth" in str(
            data.get("manifest", "")).lower():
        spots.append("Trained on SynthFaces (procedural faces): real photographs and real "
                     "deepfakes are outside its training data.")
    domains = data.get("domains_seen")
    if domains:
        spots.append(f"Capture domains seen: {', '.join(sorted(domains))}; others are unseen.")
    auc = metrics.get("val_auc")
    if isinstance(auc, (int, float)) and auc < WEAK_AUC:
        spots.append(f"Validation AUC is {auc:.2f}: a weak detector even on data like its "
                     "training data.")
    if det.method == "none":
        spots.append("It has no dropout to sample: it cannot report epistemic uncertainty "
                      "(reported as 0).")
    if not det.meta.get("ood"):
        spots.append("No out-of-distribution model is stored with it: it cannot flag inputs "
                     "unlike its training data by itself.")
    return spots


def model_card(det) -> dict[str, Any]:
    """The card of a :class:`~fakescope.serve.detectors.LoadedDetector`."""
    meta = det.meta
    arch = dict(meta.get("architecture") or {})
    metrics = dict(meta.get("metrics") or {})
    data = _training_data(meta)
    validation = {k[4:]: v for k, v in metrics.items() if k.startswith("val_")}
    calibration = meta.get("calibration") or {
        "method": "none recorded (softmax probabilities as trained)",
        "validation_nll": validation.get("loss"),
    }
    return {
        "key": det.key,
        "checkpoint": Path(det.path).name if Path(det.path).name != "best" else
        f"{Path(det.path).parent.name}/best",
        "architecture": arch,
        "input": {**(meta.get("preprocessing") or {}),
                  "faces": (meta.get("preprocessing") or {}).get("faces", "not recorded: the "
                                                                 "whole image is scored")},
        "training_data": data,
        "version": {"weights_sha256": det.version, "fakescope": meta.get("fakescope_version"),
                    "epoch": meta.get("epoch"), "selected_on": meta.get("selected_on")},
        "validation": validation,
        "calibration": calibration,
        "uncertainty": {"method": det.method, "samples": det.samples},
        "out_of_distribution": meta.get("ood") and {k: v for k, v in meta["ood"].items()
                                                    if not isinstance(v, (list, dict))},
        "known_blind_spots": _blind_spots(det, data, metrics),
    }
