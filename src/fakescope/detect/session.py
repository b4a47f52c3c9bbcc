"""A detection session: checkpoints loaded once, then any number of inputs scored as a stream.

See :mod:`fakescope.detect` for the result schema and the options.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from fakescope.data.dataset import resize_to_tensor
from fakescope.data.images import (
    DEFAULT_MAX_MEGAPIXELS,
    DEFAULT_MIN_SIDE,
    ImageLimits,
    IntakeError,
    read_image,
)
from fakescope.data.preprocessing import default_record, face_crops, find_faces
from fakescope.detect import schema
from fakescope.detect.inputs import MediaInput, iter_inputs
from fakescope.detect.overlays import compose, paint_back, unique_path
from fakescope.detect.scoring import ood_scores, per_input, pixel_maps_of, probabilities
from fakescope.errors import ConfigError, DataError, FakescopeError
from fakescope.models.checkpoint import load_detector
from fakescope.models.device import resolve_device
from fakescope.train.signal_data import is_map_detector
from fakescope.uncertainty.decompose import COMPONENTS, decompose
from fakescope.uncertainty.ood import OODStats, load_ood

UNCERTAINTY_METHODS = ("none", "mc", "mc_head", "bnn", "ensemble", "tta")
FACE_MODES = ("auto", "hog", "cnn", "none")
#: Pixels of photos held for overlays before a batch is scored early (``map_dir`` only).
_MAP_PIXEL_BUDGET = 64_000_000


@dataclass
class DetectOptions:
    """Options of a detection run (the ``fakescope detect`` flags of the same names).

    ``faces``: ``auto`` (the checkpoint's recorded detector; HOG when it records none), ``hog``,
    ``cnn`` or ``none`` (score each image / frame as is, resized). ``min_face``: faces whose box
    side is smaller (input pixels) are not scored. ``max_megapixels``/``min_size``: intake
    limits (:class:`fakescope.data.images.ImageLimits`). ``frames``: evenly spaced frames per
    video. ``map_dir``: write overlay maps there; ``save_maps``: map detectors write each clip's
    first signal map there. ``batch_size``: detector inputs (faces) per forward pass; it is
    also how many faces are gathered before a batch of files is scored and its results given.
    """

    uncertainty: str = "none"
    samples: int = 32
    threshold: float = 0.5
    faces: str = "auto"
    min_face: int = 24
    max_megapixels: float | None = DEFAULT_MAX_MEGAPIXELS
    min_size: int = DEFAULT_MIN_SIDE
    frames: int = 32
    batch_size: int = 32
    seed: int = 0
    map_dir: str | Path | None = None
    save_maps: str | Path | None = None

    def check(self) -> DetectOptions:
        if self.uncertainty not in UNCERTAINTY_METHODS:
            raise ConfigError(f"unknown uncertainty method {self.uncertainty!r}",
                              hint=f"use one of {', '.join(UNCERTAINTY_METHODS)}")
        if self.faces not in FACE_MODES:
            raise ConfigError(f"unknown face mode {self.faces!r}",
                              hint=f"use one of {', '.join(FACE_MODES)}")
        if self.samples < 1 or self.batch_size < 1 or self.frames < 1:
            raise ConfigError("samples, batch size and frames must be >= 1")
        if not 0 <= self.threshold <= 1:
            raise ConfigError(f"threshold must be in [0, 1], got {self.threshold}")
        if self.max_megapixels is not None and self.max_megapixels <= 0:
            raise ConfigError("max megapixels must be > 0")
        return self


@dataclass
class _Pending:
    """An image waiting for its batch: its regions (faces), their inputs and, for overlays,
    the photo."""

    name: str
    result: dict | None = None
    info: dict = field(default_factory=dict)
    regions: list[dict] = field(default_factory=list)
    tensors: list[torch.Tensor] = field(default_factory=list)
    pixels: np.ndarray | None = None


class DetectSession:
    """Checkpoints loaded once (a detector, or an ensemble's members) with their preprocessing
    record and OOD statistics; :meth:`iter_detect` scores a stream of inputs.

    Not thread-safe: give one session one caller at a time.
    """

    def __init__(self, loaded: list[tuple[Any, dict, Path | None]],
                 options: DetectOptions | None = None, *, device=None, face_detector=None):
        if not loaded:
            raise ConfigError("no checkpoint given")
        self.models = [m for m, _, _ in loaded]
        self.metas = [meta for _, meta, _ in loaded]
        self.ood: list[OODStats | None] = [load_ood(f, meta) if f is not None else None
                                           for _, meta, f in loaded]
        self.options = (options or DetectOptions()).check()
        self.device = device
        names = sorted({m["architecture"]["name"] for m in self.metas})
        self.name = self.metas[0]["architecture"]["name"]
        self.is_map = any(is_map_detector(n) for n in names)
        if self.is_map and len(names) > 1:
            raise ConfigError(f"ensemble members are different detectors ({', '.join(names)})",
                              hint="ensemble checkpoints of one map detector")
        self.image_size = int(self.metas[0]["architecture"].get("image_size") or 224)
        if not self.is_map and any(int(m["architecture"].get("image_size") or 224)
                                   != self.image_size for m in self.metas):
            raise ConfigError("ensemble members have different input sizes",
                              hint="train them at the same data.image_size")
        self.record = dict((self.metas[0].get("preprocessing") or {}).get("faces")
                           or default_record())
        self._detectors: dict[str, Any] = {}
        self._face_detector = face_detector
        self._check_models(self.options)

    @classmethod
    def load(cls, checkpoints, options: DetectOptions | None = None, *, device: str = "auto",
             face_detector=None, **overrides) -> DetectSession:
        """Load one checkpoint folder or several (``uncertainty="ensemble"``); ``overrides``
        set :class:`DetectOptions` fields; ``face_detector``: an object with
        ``detect(rgb) -> list[Face]`` used instead of dlib (another backend, or a test's)."""
        dev = resolve_device(device)
        paths = list(checkpoints) if isinstance(checkpoints, (list, tuple)) else [checkpoints]
        opts = dataclasses.replace(options or DetectOptions(), **overrides)
        loaded = []
        for p in paths:
            model, meta = load_detector(p, device=dev)
            folder = Path(p)
            loaded.append((model, meta, folder.parent if folder.is_file() else folder))
        return cls(loaded, opts, device=dev, face_detector=face_detector)

    # ------------------------------------------------------------------ public API
    def describe(self) -> dict:
        """What the session scores with: detector, input size, preprocessing record, training
        data summary, OOD threshold (JSON-able; a service shows it)."""
        meta = self.metas[0]
        ood = meta.get("ood")
        return {"detector": self.name, "members": len(self.models),
                "image_size": self.image_size, "preprocessing": self.record,
                "training_data": meta.get("training_data"),
                "ood": None if not ood else {k: ood.get(k) for k in ("method", "threshold",
                                                                       "quantile")},
                "options": {k: (str(v) if isinstance(v, Path) else v)
                            for k, v in dataclasses.asdict(self.options).items()}}

    def detect(self, item, *, name: str | None = None, **overrides) -> dict:
        """The result of one input: a path, or bytes (``name`` names them)."""
        if isinstance(item, (bytes, bytearray)):
            item = MediaInput.from_bytes(bytes(item), name or "upload")
        return next(iter(self.iter_detect([item], **overrides)))

    def iter_detect(self, inputs: Iterable, **overrides) -> Iterator[dict]:
        """Score ``inputs`` (paths, folders, bytes, ``(name, bytes)`` pairs or
        :class:`~fakescope.detect.inputs.MediaInput`), yielding one result per file in input
        order as soon as its batch is scored. ``overrides`` set :class:`DetectOptions` fields
        for this call only."""
        opts = dataclasses.replace(self.options, **overrides).check() if overrides \
            else self.options
        self._check_models(opts)
        used: set[str] = set()
        if self.is_map:
            from fakescope.detect.clips import score_clip

            for inp in iter_inputs(inputs):
                yield self._skip(inp) if inp.skip else score_clip(self, inp, opts)
            return
        pending: list[_Pending] = []
        faces = held = 0
        for inp in iter_inputs(inputs):
            if inp.skip:
                pending.append(_Pending(inp.name, self._skip(inp)))
                continue
            if inp.kind == "video":
                yield from self._flush(pending, opts, used)
                faces = held = 0
                yield self._video(inp, opts, used)
                continue
            p = self._prepare(inp, opts)
            pending.append(p)
            faces += len(p.tensors)
            held += 0 if p.pixels is None else p.pixels.shape[0] * p.pixels.shape[1]
            if faces >= opts.batch_size or held >= _MAP_PIXEL_BUDGET:
                yield from self._flush(pending, opts, used)
                faces = held = 0
        yield from self._flush(pending, opts, used)

    # ------------------------------------------------------------------ helpers
    def _check_models(self, opts: DetectOptions) -> None:
        if (opts.uncertainty == "ensemble") != (len(self.models) > 1):
            raise ConfigError("--uncertainty ensemble takes two or more --model checkpoints, and "
                              "several --model checkpoints need --uncertainty ensemble")
        if self.is_map:
            if opts.map_dir is not None:
                raise ConfigError(f"--map draws pixel saliency on images; {self.name} scores "
                                  "signal maps of clips", hint="use --save-maps DIR to see its maps")
            if opts.uncertainty == "tta":
                raise ConfigError("tta flips and shifts its input; a signal map's columns are "
                                  "grid cells and spectra, so it does not apply to map detectors",
                                  hint="use mc, mc_head, bnn or ensemble")

    def _skip(self, inp: MediaInput) -> dict:
        return schema.not_scored(inp.name, inp.kind, inp.skip or "skipped", "unsupported")

    def _limits(self, opts: DetectOptions) -> ImageLimits:
        return ImageLimits(max_megapixels=opts.max_megapixels, min_side=opts.min_size)

    def face_detector(self, mode: str):
        """The dlib detector of a face mode (``auto``: the recorded one), loaded once; the
        session's ``face_detector`` when one was given."""
        if self._face_detector is not None:
            return self._face_detector
        kind = self.record.get("detector", "hog") if mode == "auto" else mode
        if kind not in ("hog", "cnn"):
            kind = "hog"
        if kind not in self._detectors:
            from fakescope.data.faces import create_face_detector

            lm = int(self.record.get("landmarks", 68) or 68)
            self._detectors[kind] = create_face_detector(kind, landmarks=lm if lm in (5, 68)
                                                         else 68)
        return self._detectors[kind]

    def regions(self, pixels: np.ndarray, opts: DetectOptions,
                ) -> tuple[list[dict], list[np.ndarray], int]:
        """``(regions, crops, n_too_small)`` of a photo or frame: each region ``{"box",
        "det_score", "matrix" (photo -> crop), "crop_size"}``; with ``faces="none"`` the whole
        image resized to the detector's input."""
        h, w = pixels.shape[:2]
        if opts.faces == "none":
            s = self.image_size
            m = np.array([[s / w, 0, 0], [0, s / h, 0]], np.float64)
            return ([{"box": (0.0, 0.0, float(w), float(h)), "det_score": None, "matrix": m,
                      "crop_size": s}], [pixels], 0)
        kept, small = find_faces(pixels, self.face_detector(opts.faces), min_face=opts.min_face)
        crops = face_crops(pixels, kept, self.record)
        size = int(self.record.get("crop_size") or 256)
        regs = [{"box": f.box, "det_score": f.score, "matrix": m, "crop_size": size}
                for f, (_, m) in zip(kept, crops, strict=True)]
        return regs, [c for c, _ in crops], len(small)

    def _no_face_message(self, opts: DetectOptions, n_small: int, where: str = "") -> str:
        kind = self.record.get("detector", "hog") if opts.faces == "auto" else opts.faces
        small = (f"; {n_small} face(s) smaller than the minimum of {opts.min_face} px"
                 if n_small else "")
        return (f"no face found{where} (dlib {kind} detector{small}); the detector was trained "
                "on faces, so the image is not scored whole (--faces none scores it as is)")

    def _prepare(self, inp: MediaInput, opts: DetectOptions) -> _Pending:
        try:
            img = read_image(inp.source(), name=inp.name, limits=self._limits(opts))
        except IntakeError as exc:
            return _Pending(inp.name, schema.not_scored(inp.name, "image", _message(exc),
                                                        exc.reason))
        except DataError as exc:
            return _Pending(inp.name, schema.not_scored(inp.name, "image", _message(exc),
                                                        "unreadable"))
        info = img.describe()
        try:
            regs, crops, n_small = self.regions(img.pixels, opts)
        except FakescopeError as exc:
            return _Pending(inp.name, schema.not_scored(inp.name, "image", _message(exc),
                                                        "unreadable", input=info))
        if not regs:
            return _Pending(inp.name, schema.not_scored(
                inp.name, "image", self._no_face_message(opts, n_small), "no_face", n_faces=0,
                faces_mode=opts.faces, input=info))
        tensors = [resize_to_tensor(c, self.image_size) for c in crops]
        return _Pending(inp.name, None, info, regs, tensors,
                        img.pixels if opts.map_dir is not None else None)

    def _score(self, x: torch.Tensor, opts: DetectOptions) -> tuple[list[dict], dict | None]:
        """Per input: the scored fields (:func:`schema.scored`); and pixel maps with map_dir."""
        probs = probabilities(self.models, x, method=opts.uncertainty, samples=opts.samples,
                              seed=opts.seed, batch_size=opts.batch_size)
        _, out = self._scored(probs, x, opts)
        maps = None
        if opts.map_dir is not None:
            maps = pixel_maps_of(self.models, x, method=opts.uncertainty, samples=opts.samples,
                                 seed=opts.seed, batch_size=opts.batch_size)
        return out, maps

    def _flush(self, pending: list[_Pending], opts: DetectOptions, used: set[str]
               ) -> Iterator[dict]:
        todo = [p for p in pending if p.result is None]
        if todo:
            x = torch.stack([t for p in todo for t in p.tensors])
            scores, maps = self._score(x, opts)
            k = 0
            for p in todo:
                n = len(p.regions)
                faces = [schema.face_entry(i, r["box"], r["det_score"], s)
                         for i, (r, s) in enumerate(zip(p.regions, scores[k:k + n],
                                                        strict=True))]
                files = None
                if maps is not None:
                    files = self._write_maps(p.name, p.pixels, p.regions, faces,
                                             {m: v[k:k + n] for m, v in maps.items()}, opts,
                                             used)
                p.result = schema.image_result(p.name, faces, faces_mode=opts.faces,
                                               input_info=p.info, maps=files)
                k += n
        for p in pending:
            yield p.result
        pending.clear()

    def _write_maps(self, name: str, pixels: np.ndarray, regions: list[dict], faces: list[dict],
                    maps: dict[str, np.ndarray], opts: DetectOptions, used: set[str],
                    stem_suffix: str = "") -> dict:
        """Overlay PNGs at the photo's resolution: ``saliency`` always, ``uncertainty`` (the
        saliency's variance over passes) with a stochastic method."""
        folder = Path(opts.map_dir)
        stem = Path(name).stem + stem_suffix
        kinds = {"saliency": "mean"}
        if opts.uncertainty != "none":
            kinds["uncertainty"] = "variance"
        boxes = [f["box"] for f in faces]
        labels = [f"{f['p_fake']:.2f}" + ("?" if f["in_distribution"] is False else "")
                  for f in faces]
        out = {}
        for kind, key in kinds.items():
            parts = [paint_back(maps[key][i], r["matrix"], r["crop_size"], pixels.shape[:2])
                     for i, r in enumerate(regions)]
            from fakescope.data.images import save_image

            path = unique_path(folder, stem, f"_{kind}.png", used)
            out[kind] = str(save_image(path, compose(pixels, parts, boxes=boxes, labels=labels)))
        return out

    def _video(self, inp: MediaInput, opts: DetectOptions, used: set[str]) -> dict:
        from fakescope.data.video import read_frames

        try:
            with inp.local_file() as path:
                decoded = read_frames(path, num_frames=opts.frames)
        except FakescopeError as exc:
            return schema.not_scored(inp.name, "video", _message(exc), "video_error")
        frames, regions, tensors = [], [], []
        for idx, img in decoded:
            regs, crops, _ = self.regions(img, opts)
            rec = {"frame": int(idx), "face": bool(regs) and opts.faces != "none", "box": None,
                   "p_fake": None}
            if regs:
                if opts.faces != "none":  # the largest face of the frame
                    j = max(range(len(regs)), key=lambda i: _area(regs[i]["box"]))
                    regs, crops = [regs[j]], [crops[j]]
                    rec["box"] = schema.box_list(regs[0]["box"])
                regions.append((len(frames), regs[0], img if opts.map_dir is not None else None))
                tensors.append(resize_to_tensor(crops[0], self.image_size))
            frames.append(rec)
        if not tensors:
            return schema.not_scored(inp.name, "video", self._no_face_message(
                opts, 0, f" in any of {len(decoded)} sampled frames"), "no_face",
                n_frames_sampled=len(decoded), faces_mode=opts.faces)
        x = torch.stack(tensors)
        probs = probabilities(self.models, x, method=opts.uncertainty, samples=opts.samples,
                              seed=opts.seed, batch_size=opts.batch_size)  # (T, F, C)
        scores, maps = self._score_frames(probs, x, opts)
        for (fi, _, _), s in zip(regions, scores, strict=True):
            frames[fi].update(s)
        pf = np.array([s["p_fake"] for s in scores])
        ood = [s["ood_score"] for s in scores]
        clip_ood = None if ood[0] is None else float(np.mean(ood))
        unc = None
        if opts.uncertainty != "none":
            d = decompose(probs.mean(dim=1, keepdim=True))  # the clip: mean over frames per pass
            unc = {k: float(d[k][0]) for k in COMPONENTS}
        clip = schema.scored(float(pf.mean()), threshold=opts.threshold, uncertainty=unc,
                             ood_score=clip_ood,
                             in_distribution=None if clip_ood is None else clip_ood <= 1.0)
        out = {"path": inp.name, "kind": "video", **{k: clip[k] for k in ("verdict", "p_fake")}}
        if unc is not None:
            out["uncertainty"] = unc
        out.update(ood_score=clip["ood_score"], in_distribution=clip["in_distribution"],
                   n_frames_scored=len(tensors), n_frames_sampled=len(decoded),
                   faces_mode=opts.faces, frames=frames)
        if maps is not None:
            top = int(pf.argmax())
            fi, reg, img = regions[top]
            face = {"box": reg["box"], "p_fake": scores[top]["p_fake"],
                    "in_distribution": scores[top]["in_distribution"]}
            out["maps"] = {"frame": frames[fi]["frame"], **self._write_maps(
                inp.name, img, [reg], [face], {k: v[top:top + 1] for k, v in maps.items()},
                opts, used, stem_suffix=f"_frame{frames[fi]['frame']:06d}")}
        return out

    def _scored(self, probs: torch.Tensor, x: torch.Tensor,
                opts: DetectOptions) -> tuple[list[dict], list[dict]]:
        """Per input of ``x``: its fields from ``probs (T, N, C)`` (:func:`per_input`) and its
        scored result (:func:`schema.scored`) with the OOD score of the models used."""
        base = per_input(probs, stochastic=opts.uncertainty != "none")
        used = self.models if opts.uncertainty == "ensemble" else self.models[:1]
        stats = self.ood if opts.uncertainty == "ensemble" else self.ood[:1]
        ood = ood_scores(used, stats, x, batch_size=opts.batch_size)
        return base, [schema.scored(b["p_fake"], threshold=opts.threshold,
                                    uncertainty=b.get("uncertainty"),
                                    ood_score=None if ood is None else ood[i],
                                    in_distribution=None if ood is None else bool(ood[i] <= 1.0))
                      for i, b in enumerate(base)]

    def _score_frames(self, probs: torch.Tensor, x: torch.Tensor, opts: DetectOptions):
        base, scores = self._scored(probs, x, opts)
        maps = None
        if opts.map_dir is not None:
            top = int(np.argmax([b["p_fake"] for b in base]))
            maps = pixel_maps_of(self.models, x[top:top + 1], method=opts.uncertainty,
                                 samples=opts.samples, seed=opts.seed,
                                 batch_size=opts.batch_size)
            full = {k: np.zeros((len(base), *v.shape[1:]), v.dtype) for k, v in maps.items()}
            for k, v in maps.items():
                full[k][top] = v[0]
            maps = full
        return scores, maps


def _area(box) -> float:
    return max(box[2] - box[0], 0.0) * max(box[3] - box[1], 0.0)


def _message(exc: FakescopeError) -> str:
    return exc.problem + (f" ({exc.hint})" if exc.hint else "")
