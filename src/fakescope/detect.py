"""Single-file inference: score images, videos and folders of them with a checkpoint.

Each result is a dict ``{"path", "kind": "image"|"video", "p_fake", "verdict"}``; images get
``"uncertainty": {"total", "aleatoric", "epistemic", "variance"}`` when a stochastic method is
asked for; videos get ``"frames": [{"frame", "p_fake", "face", "box"}]`` (evenly spaced frames,
faces found and aligned with dlib, ``p_fake`` = mean over frames with a face). A file that
could not be read gives ``{"path", "error"}``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from fakescope.data.dataset import resize_to_tensor
from fakescope.data.images import IMAGE_SUFFIXES, VIDEO_SUFFIXES, list_media, load_image
from fakescope.errors import ConfigError, DataError
from fakescope.models.checkpoint import load_detector
from fakescope.models.detector import p_fake as p_fake_of
from fakescope.train.distributed import resolve_device


def _load_all(files: list[Path], size: int) -> tuple[list[tuple[Path, torch.Tensor]], list[dict]]:
    ok, bad = [], []
    for f in files:
        try:
            ok.append((f, resize_to_tensor(load_image(f), size)))
        except DataError as exc:
            bad.append({"path": str(f), "error": exc.problem})
    return ok, bad


def _score_videos(model, videos: list[Path], *, frames: int, faces: str | None, threshold: float,
                  device, batch_size: int) -> dict[str, dict[str, Any]]:
    from fakescope.data.video_scoring import score_video

    out = {}
    for v in videos:
        try:
            r = score_video(model, v, frames=frames, face_extractor=faces, device=device,
                            batch_size=batch_size)
        except DataError as exc:
            out[str(v)] = {"path": str(v), "kind": "video", "error": exc.problem}
            continue
        out[str(v)] = {"path": str(v), "kind": "video", "p_fake": r["video_score"],
                       "verdict": "fake" if r["video_score"] >= threshold else "real",
                       "n_frames_scored": r["n_scored"], "frames": r["frames"]}
    return out


def detect_images(paths: list[str | Path], checkpoint: str | Path | list[str | Path], *, uncertainty: str = "none",
                  samples: int = 32, map_dir: str | Path | None = None, threshold: float = 0.5,
                  batch_size: int = 32, device: str = "auto", frames: int = 32,
                  faces: str | None = "hog") -> list[dict[str, Any]]:
    """Score every image and video under ``paths``; results keep the input order, errors included.

    ``checkpoint``: one checkpoint, or several for ``uncertainty="ensemble"`` (a deep ensemble).
    ``frames``: evenly spaced frames sampled per video; ``faces``: dlib detector for video
    frames (``"hog"``/``"cnn"``) or None to score whole frames.
    """
    files = list_media(list(paths), keep_missing=True, suffixes=IMAGE_SUFFIXES + VIDEO_SUFFIXES)
    if not files:
        raise DataError("no images or videos found", path=", ".join(map(str, paths)))
    dev = resolve_device(device)
    checkpoints = list(checkpoint) if isinstance(checkpoint, (list, tuple)) else [checkpoint]
    if (uncertainty == "ensemble") != (len(checkpoints) > 1):
        raise ConfigError("--uncertainty ensemble takes two or more --model checkpoints, and "
                          "several --model checkpoints need --uncertainty ensemble")
    loaded = [load_detector(c, device=dev) for c in checkpoints]
    model, meta = loaded[0]
    size = int(meta["architecture"]["image_size"])
    if any(int(m["architecture"]["image_size"]) != size for _, m in loaded):
        raise ConfigError("ensemble members have different input sizes",
                          hint="train them at the same data.image_size")
    videos = [f for f in files if f.suffix.lower() in VIDEO_SUFFIXES]
    ok, bad = _load_all([f for f in files if f.suffix.lower() not in VIDEO_SUFFIXES], size)
    results: dict[str, dict[str, Any]] = {b["path"]: b for b in bad}
    results.update(_score_videos(model, videos, frames=frames, faces=faces, threshold=threshold,
                                 device=dev, batch_size=batch_size))
    if ok:
        images = torch.stack([t for _, t in ok])
        if uncertainty == "none":
            probs = []
            with torch.no_grad():
                for i in range(0, len(images), batch_size):
                    logits = model(images[i:i + batch_size].to(dev))["detect"]
                    probs.append(torch.softmax(logits.float(), -1).cpu())
            pf = p_fake_of(torch.cat(probs)).tolist()
            found = [{"p_fake": p} for p in pf]
        else:
            from fakescope.uncertainty.sampling import detect_with_uncertainty

            members = [m for m, _ in loaded] if uncertainty == "ensemble" else model
            found = detect_with_uncertainty(members, images, method=uncertainty, samples=samples,
                                            map_dir=map_dir, names=[f.stem for f, _ in ok],
                                            batch_size=batch_size)
        for (f, _), r in zip(ok, found, strict=True):
            r = dict(r)
            r["verdict"] = "fake" if r["p_fake"] >= threshold else "real"
            results[str(f)] = {"path": str(f), "kind": "image", **r}
    return [results[str(f)] for f in files]
