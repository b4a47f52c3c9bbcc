"""Single-file inference: score images, videos and folders of them with a checkpoint.

Each result is a dict ``{"path", "kind": "image"|"video", "p_fake", "verdict"}``; images get
``"uncertainty": {"total", "aleatoric", "epistemic", "variance"}`` when a stochastic method is
asked for; videos get ``"frames": [{"frame", "p_fake", "face", "box"}]`` (evenly spaced frames,
faces found and aligned with dlib, ``p_fake`` = mean over frames with a face). A file that
could not be read gives ``{"path", "error"}``.

A map detector's checkpoint (``ppg_map``, ``motion_map``) scores whole clips instead: the face
is detected with dlib and tracked through the clip, its signals become one map per window
(:func:`fakescope.train.signal_data.video_maps`, the window and stride the detector was trained
with), every window is scored and the clip's ``p_fake`` is the mean over windows (per pass, so
``"uncertainty"`` is the clip's; :mod:`fakescope.train.map_scoring`). Its result adds
``"detector"``, ``"windows": [{"start", "p_fake"}]`` and, with ``save_maps``, ``"maps":
{"<kind>": PNG of the first window's map}``. An image, a clip shorter than rPPG's 4 s or one
window, or a clip whose face is lost is a per-file error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from fakescope.config import TrainConfig, config_from_dict, load_config
from fakescope.data.dataset import resize_to_tensor
from fakescope.data.images import IMAGE_SUFFIXES, VIDEO_SUFFIXES, list_media, load_image
from fakescope.errors import ConfigError, DataError, FakescopeError
from fakescope.models.checkpoint import load_detector
from fakescope.models.device import resolve_device
from fakescope.models.predict import load_members, predict
from fakescope.train.signal_data import is_map_detector
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
                  faces: str | None = "hog",
                  save_maps: str | Path | None = None) -> list[dict[str, Any]]:
    """Score every image and video under ``paths``; results keep the input order, errors included.

    ``checkpoint``: one checkpoint, or several for ``uncertainty="ensemble"`` (a deep ensemble).
    ``frames``: evenly spaced frames sampled per video; ``faces``: dlib detector for video
    frames (``"hog"``/``"cnn"``) or None to score whole frames (a map detector always detects
    and tracks the face, with ``"hog"`` when None). ``save_maps``: a map detector writes each
    clip's first signal map there as PNG.
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
    kinds = sorted({m["architecture"]["name"] for _, m in loaded})
    if any(is_map_detector(k) for k in kinds):
        if len(kinds) > 1:
            raise ConfigError(f"ensemble members are different detectors ({', '.join(kinds)})",
                              hint="ensemble checkpoints of one map detector")
        if map_dir is not None:
            raise ConfigError(f"--map draws pixel saliency on images; {kinds[0]} scores "
                              "signal maps of clips", hint="use --save-maps DIR to see its maps")
        return detect_map_clips(files, loaded, uncertainty=uncertainty, samples=samples,
                                threshold=threshold, batch_size=batch_size, device=dev,
                                faces=faces or "hog", save_maps=save_maps)
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


def _map_config(meta: dict, path) -> TrainConfig:
    """The training config a map checkpoint records (its map window, stride and flow)."""
    try:
        return config_from_dict(meta.get("training") or {}, origin=f"{path} (meta.json)")
    except ConfigError:  # written by another fakescope version: the defaults, this detector
        return load_config(None, [f"model.name={meta['architecture']['name']}"])


def detect_map_clips(files: list[Path], loaded: list[tuple], *, uncertainty: str = "none",
                     samples: int = 32, threshold: float = 0.5, batch_size: int = 32,
                     device=None, faces: str = "hog",
                     save_maps: str | Path | None = None) -> list[dict[str, Any]]:
    """Score clips with map-detector checkpoints ``loaded`` [(model, meta)] (one, or an
    ensemble's members); one result per file of ``files``, in order (see the module doc)."""
    from fakescope.signals.maps import save_map_png
    from fakescope.train.map_scoring import clip_means
    from fakescope.train.signal_data import map_spec, video_maps

    if uncertainty == "tta":
        raise ConfigError("tta flips and shifts its input; a signal map's columns are grid "
                          "cells and spectra, so it does not apply to map detectors",
                          hint="use mc, mc_head, bnn or ensemble")
    name = loaded[0][1]["architecture"]["name"]
    cfg = _map_config(loaded[0][1], files[0])
    spec = map_spec(cfg)
    if any(map_spec(_map_config(m, "member")) != spec for _, m in loaded[1:]):
        raise ConfigError("ensemble members were trained on different maps",
                          hint="ensemble runs with the same data.map_window and map_stride")
    members = [m for m, _ in loaded] if uncertainty == "ensemble" else loaded[0][0]
    out = []
    for f in files:
        if f.suffix.lower() not in VIDEO_SUFFIXES:
            out.append({"path": str(f), "kind": "image", "error": f"{name} scores video clips "
                        "(signal maps over time), not images: give it a clip"})
            continue
        try:
            maps, starts = video_maps(f, spec, detector=faces, flow=cfg.data.flow)
        except FakescopeError as exc:
            out.append({"path": str(f), "kind": "video", "error": exc.problem
                        + (f" ({exc.hint})" if exc.hint else "")})
            continue
        probs = predict(members, torch.from_numpy(maps), method=uncertainty, samples=samples,
                        batch_size=batch_size, device=device).probs  # (T, N, C)
        clip, _ = clip_means(probs, [str(f)] * len(maps), [str(f)])  # (T, 1, C)
        r: dict[str, Any] = {"path": str(f), "kind": "video", "detector": name,
                             "p_fake": float(1.0 - clip[:, 0, 0].mean())}
        if uncertainty != "none":
            d = decompose(clip)
            r["uncertainty"] = {k: float(d[k][0]) for k in COMPONENTS}
        r["verdict"] = "fake" if r["p_fake"] >= threshold else "real"
        r["n_windows"] = len(maps)
        r["windows"] = [{"start": int(s), "p_fake": float(1.0 - probs[:, j, 0].mean())}
                        for j, s in enumerate(starts)]
        if save_maps is not None:
            png = Path(save_maps) / f"{f.stem}_{spec.kind}_map.png"
            r["maps"] = {spec.kind: str(save_map_png(png, maps[0]))}
        out.append(r)
    return out
