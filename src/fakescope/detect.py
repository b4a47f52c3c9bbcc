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
from fakescope.models.device import resolve_device
from fakescope.models.predict import load_members, predict
from fakescope.uncertainty.decompose import COMPONENTS, decompose


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
            pf = predict(model, images, method="none", batch_size=batch_size).p_fake.tolist()
            found = [{"p_fake": p} for p in pf]
        else:
            members = [m for m, _ in loaded] if uncertainty == "ensemble" else model
            found = detect_with_uncertainty(members, images, method=uncertainty, samples=samples,
                                            map_dir=map_dir, names=[f.stem for f, _ in ok],
                                            batch_size=batch_size)
        for (f, _), r in zip(ok, found, strict=True):
            r = dict(r)
            r["verdict"] = "fake" if r["p_fake"] >= threshold else "real"
            results[str(f)] = {"path": str(f), "kind": "image", **r}
    return [results[str(f)] for f in files]


def detect_with_uncertainty(model, images, *, method: str = "mc_head", samples: int = 32,
                            map_dir: str | Path | None = None, names: list[str] | None = None,
                            batch_size: int = 32, seed: int = 0) -> list[dict]:
    """Score images with uncertainty: one dict per image, in order.

    ``images``: ``(N, 3, H, W)`` in [0, 1]. Each dict is ``{"p_fake", "uncertainty": {"total",
    "aleatoric", "epistemic", "variance"}}`` (see :mod:`fakescope.uncertainty.decompose`).
    With ``map_dir``, writes ``<name>_saliency.png`` (mean input-gradient saliency over passes)
    and ``<name>_uncertainty.png`` (its variance over passes) overlays and adds their paths under
    ``"maps"``. Pixel maps of ``tta`` use ``mc_head`` when the head has dropout, else ``none``.
    """
    probs = predict(model, images, method=method, samples=samples, seed=seed,
                    batch_size=batch_size).probs
    d = decompose(probs)
    out = [{"p_fake": float(d["p_fake"][i]),
            "uncertainty": {k: float(d[k][i]) for k in COMPONENTS}} for i in range(len(d["total"]))]
    if map_dir is None:
        return out
    from fakescope.uncertainty.maps import PIXEL_METHODS, pixel_maps, save_overlay

    if isinstance(model, (list, tuple)):  # ensemble: pixel maps of the first member
        model = load_members(model)[0]
    map_method = method
    if method not in PIXEL_METHODS:
        drop = getattr(model, "head_dropout", None)
        map_method = "mc_head" if drop is not None and drop.p > 0 else "none"
    names = names or [f"image_{i:05d}" for i in range(len(out))]
    folder = Path(map_dir)
    x = torch.as_tensor(images)
    for i in range(0, len(out), batch_size):
        maps = pixel_maps(model, x[i:i + batch_size], method=map_method,
                          samples=samples if map_method != "none" else 1, seed=seed)
        for j in range(maps["mean"].shape[0]):
            k = i + j
            out[k]["maps"] = {
                "saliency": str(save_overlay(folder / f"{names[k]}_saliency.png", x[k],
                                             maps["mean"][j])),
                "uncertainty": str(save_overlay(folder / f"{names[k]}_uncertainty.png", x[k],
                                                maps["variance"][j]))}
    return out
