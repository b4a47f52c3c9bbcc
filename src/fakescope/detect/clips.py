"""Map detectors (``ppg_map``, ``motion_map``) score whole clips.

The face is detected with dlib and tracked through the clip, its signals become one map per
window (:func:`fakescope.train.signal_data.video_maps`, with the window and stride the detector
was trained with), every window is scored and the clip's ``p_fake`` is the mean over windows
(per pass, so ``"uncertainty"`` is the clip's; :mod:`fakescope.train.map_scoring`). The result
adds ``"detector"``, ``"n_windows"``, ``"windows": [{"start", "p_fake"}]`` and, with
``save_maps``, ``"maps": {"<kind>": PNG of the first window's map}``; ``ood_score`` is the mean
over windows. An image, a clip shorter than rPPG's 4 s or one window, or a clip whose face is
lost is a per-file error.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from fakescope.config import TrainConfig, config_from_dict, load_config
from fakescope.detect import schema
from fakescope.detect.inputs import MediaInput
from fakescope.detect.scoring import ood_scores
from fakescope.errors import ConfigError, FakescopeError
from fakescope.models.predict import predict
from fakescope.uncertainty.decompose import COMPONENTS, decompose


def map_config(meta: dict, path) -> TrainConfig:
    """The training config a map checkpoint records (its map window, stride and flow)."""
    try:
        return config_from_dict(meta.get("training") or {}, origin=f"{path} (meta.json)")
    except ConfigError:  # written by another fakescope version: the defaults, this detector
        return load_config(None, [f"model.name={meta['architecture']['name']}"])


def score_clip(session, inp: MediaInput, opts) -> dict:
    """One clip's result with a map detector's session (see the module doc)."""
    from fakescope.signals.maps import save_map_png
    from fakescope.train.map_scoring import clip_means
    from fakescope.train.signal_data import map_spec, video_maps

    name = session.name
    cfg = map_config(session.metas[0], inp.name)
    spec = map_spec(cfg)
    if any(map_spec(map_config(m, "member")) != spec for m in session.metas[1:]):
        raise ConfigError("ensemble members were trained on different maps",
                          hint="ensemble runs with the same data.map_window and map_stride")
    if inp.kind != "video":
        return schema.not_scored(inp.name, "image", f"{name} scores video clips (signal maps "
                                 "over time), not images: give it a clip", "wrong_input")
    faces = "hog" if opts.faces in ("auto", "none") else opts.faces
    try:
        with inp.local_file() as path:
            maps, starts = video_maps(path, spec, detector=faces, flow=cfg.data.flow)
    except FakescopeError as exc:
        return schema.not_scored(inp.name, "video", exc.problem
                                 + (f" ({exc.hint})" if exc.hint else ""), "video_error")
    members = session.models if opts.uncertainty == "ensemble" else session.models[0]
    x = torch.from_numpy(maps)
    probs = predict(members, x, method=opts.uncertainty, samples=opts.samples,
                    batch_size=opts.batch_size, seed=opts.seed).probs  # (T, N, C)
    clip, _ = clip_means(probs, [inp.name] * len(maps), [inp.name])  # (T, 1, C)
    used = session.models if opts.uncertainty == "ensemble" else session.models[:1]
    stats = session.ood if opts.uncertainty == "ensemble" else session.ood[:1]
    ood = ood_scores(used, stats, x, batch_size=opts.batch_size)
    clip_ood = None if ood is None else float(np.mean(ood))
    unc = None
    if opts.uncertainty != "none":
        d = decompose(clip)
        unc = {k: float(d[k][0]) for k in COMPONENTS}
    s = schema.scored(float(1.0 - clip[:, 0, 0].mean()), threshold=opts.threshold,
                      uncertainty=unc, ood_score=clip_ood,
                      in_distribution=None if clip_ood is None else clip_ood <= 1.0)
    r = {"path": inp.name, "kind": "video", "detector": name, **s, "n_windows": len(maps),
         "windows": [{"start": int(st), "p_fake": float(1.0 - probs[:, j, 0].mean())}
                     for j, st in enumerate(starts)]}
    if opts.save_maps is not None:
        png = Path(opts.save_maps) / f"{Path(inp.name).stem}_{spec.kind}_map.png"
        r["maps"] = {spec.kind: str(save_map_png(png, maps[0]))}
    return r
