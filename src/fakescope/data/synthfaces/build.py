"""Build the SynthFaces benchmark: real renders + one fake per real, files + manifest.

Layout under ``out_dir``::

    images/<domain>/<identity>/<k>_real.png, <k>_<generator>.png
    masks/<identity>/<k>_<generator>.png     manipulation mask (uint8, 255 = fully changed)
    masks/empty.png                          the (all-zero) mask of every real image
    facemasks/<identity>/<k>.png             face mask of the real image (uint8 0/255)
    landmarks/<identity>/<k>_<source>.npy    (68, 2) float32 landmarks
    rows/<chunk>.json                        finished chunks (written last; resume marker)
    manifest.csv, synth_config.json

Work is split into chunks of up to 4 identities of the same (domain, split); every random draw
comes from ``SeedSequence([seed, stage, identity, k])`` and every chunk runs single-threaded
(:func:`single_threaded`), so the bytes depend neither on the number of workers nor on the
thread count, and a rerun skips finished chunks (resume) or reuses a complete build.
"""

from __future__ import annotations

import json
import multiprocessing as mp
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from fakescope.data.generators import DEFAULT_GENERATORS, create_generator, list_generators
from fakescope.data.manifest import read_manifest, write_manifest
from fakescope.data.synthfaces.camera import jpeg, sensor
from fakescope.data.synthfaces.render import render_face
from fakescope.data.synthfaces.traits import (
    DOMAINS,
    check_proportions,
    make_identities,
    sample_view,
)
from fakescope.errors import ConfigError

CHUNK_IDENTITIES = 4
# Bump when the renderer or a generator's defaults change: an output folder built by another
# version is then refused instead of silently mixing old and new images.
SYNTH_VERSION = 7


@dataclass
class SynthConfig:
    """Benchmark options. ``proportions``: {attribute: {group: weight}} for skin_tone / gender /
    age_group (see traits); ``generator_opts``: {generator: {range overrides / strength}};
    ``splits``: train/val/test fractions of identities (per domain)."""

    identities: int = 250
    images_per_identity: int = 10
    generators: tuple[str, ...] = DEFAULT_GENERATORS
    domains: tuple[str, ...] = DOMAINS
    size: int = 128
    seed: int = 0
    proportions: dict | None = None
    generator_opts: dict = field(default_factory=dict)
    splits: tuple[float, float, float] = (0.7, 0.15, 0.15)

    def check(self) -> SynthConfig:
        if self.identities < 1 or self.images_per_identity < 1:
            raise ConfigError("identities and images_per_identity must be >= 1")
        if not 16 <= self.size <= 1024:
            raise ConfigError(f"size {self.size} out of range", hint="use 16..1024 px")
        bad = [g for g in self.generators if g not in list_generators()]
        if bad or not self.generators:
            raise ConfigError(f"unknown generator(s) {bad}",
                              hint=f"choose from {', '.join(list_generators())}")
        bad = [d for d in self.domains if d not in DOMAINS]
        if bad or not self.domains:
            raise ConfigError(f"unknown domain(s) {bad}", hint=f"use {', '.join(DOMAINS)}")
        if len(self.splits) != 3 or min(self.splits) < 0 or sum(self.splits) <= 0:
            raise ConfigError(f"bad split fractions {self.splits}")
        check_proportions(self.proportions)
        for g in self.generator_opts:
            create_generator(g, **self.generator_opts[g])
        self.generators = tuple(self.generators)
        self.domains = tuple(self.domains)
        return self

    def to_json(self) -> str:
        d = asdict(self)
        d["generators"] = list(self.generators)
        d["domains"] = list(self.domains)
        d["splits"] = list(self.splits)
        d["synth_version"] = SYNTH_VERSION
        return json.dumps(d, sort_keys=True, indent=1)


def plan(cfg: SynthConfig) -> list[dict]:
    """Chunks of work: ``[{"name", "domain", "split", "identities": [...]}]`` (deterministic)."""
    n = cfg.identities
    doms = [cfg.domains[i % len(cfg.domains)] for i in range(n)]
    split_of = {}
    fr = np.array(cfg.splits, float) / sum(cfg.splits)
    for d in cfg.domains:
        ids = [i for i in range(n) if doms[i] == d]
        rng = np.random.default_rng(np.random.SeedSequence([cfg.seed, 11, DOMAINS.index(d)]))
        rng.shuffle(ids)
        n_tr = int(round(fr[0] * len(ids)))
        n_va = int(round(fr[1] * len(ids)))
        for j, i in enumerate(ids):
            split_of[i] = "train" if j < n_tr else ("val" if j < n_tr + n_va else "test")
    chunks = []
    for d in cfg.domains:
        for s in ("train", "val", "test"):
            ids = [i for i in range(n) if doms[i] == d and split_of[i] == s]
            for c in range(0, len(ids), CHUNK_IDENTITIES):
                part = ids[c:c + CHUNK_IDENTITIES]
                chunks.append({"name": f"{d}_{s}_{part[0]:05d}", "domain": d, "split": s,
                               "identities": part})
    return chunks


def _png(path: Path, img: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    arr = img[..., ::-1] if img.ndim == 3 else img
    ok, buf = cv2.imencode(".png", np.ascontiguousarray(arr))
    path.write_bytes(buf.tobytes())  # a chunk is complete only once its rows file exists


def _npy(path: Path, arr: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, np.asarray(arr, np.float32))


def _ss(cfg: SynthConfig, stage: int, i: int, k: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([cfg.seed, stage, i, k]))


def _round(d: dict) -> dict:
    return {k: (round(float(v), 4) if isinstance(v, float | np.floating) else v)
            for k, v in d.items()}


def single_threaded():
    """Pin every threaded library a build calls to one thread (OpenCV, and BLAS/OpenMP through
    threadpoolctl; a context manager for the latter), so that no result depends on how a
    library splits its work between threads: the bytes of a build must not depend on the
    machine's core count or ``OMP_NUM_THREADS``."""
    from threadpoolctl import threadpool_limits

    cv2.setNumThreads(1)
    return threadpool_limits(limits=1)


def run_chunk(cfg: SynthConfig, chunk: dict, out: Path) -> list[dict]:
    """Render one chunk's reals and fakes, write its files; returns its manifest rows."""
    with single_threaded():
        return _run_chunk(cfg, chunk, out)


def _run_chunk(cfg: SynthConfig, chunk: dict, out: Path) -> list[dict]:
    idents = make_identities(cfg.identities, seed=cfg.seed, proportions=cfg.proportions)
    gens = {g: create_generator(g, **cfg.generator_opts.get(g, {})) for g in cfg.generators}
    K = cfg.images_per_identity
    raws: dict[tuple[int, int], tuple] = {}
    rows: list[dict] = []
    for i in chunk["identities"]:
        ident = idents[i]
        for k in range(K):
            rng = _ss(cfg, 2, i, k)
            view = sample_view(rng, chunk["domain"])
            face = render_face(ident, view, cfg.size)
            raw = sensor(face.image, view.camera, rng)
            raws[i, k] = (raw, face.landmarks, face.face_mask, view)
    for i in chunk["identities"]:
        ident = idents[i]
        others = [j for j in chunk["identities"] if j != i]
        for k in range(K):
            raw, lm, fmask, view = raws[i, k]
            u = i * K + k
            gname = cfg.generators[u % len(cfg.generators)]
            rng = _ss(cfg, 3, i, k)
            donor = None
            if others:
                j = others[int(rng.integers(len(others)))]
                kk = int(rng.integers(K))
                donor = raws[j, kk][:2]
            res = gens[gname](raw, lm, rng, donor=donor)
            q = view.camera["jpeg"]
            stem = f"{k:03d}"
            base = {
                "identity": ident.name, "frame": 0, "split": chunk["split"],
                "domain": chunk["domain"], "skin_tone": ident.skin_tone,
                "skin_tone_level": ident.skin_tone_level, "gender": ident.gender,
                "age_group": ident.age_group, "age": ident.age,
                "face_mask_path": f"facemasks/{ident.name}/{stem}.png",
                "hair_style": ident.hair_style, "hair_colour": ident.hair_colour,
                "facial_hair": ident.facial_hair, "glasses": int(ident.glasses),
                **_round({"yaw": view.yaw, "pitch": view.pitch, "roll": view.roll,
                          "smile": view.expr["smile"], "mouth_open": view.expr["mouth_open"],
                          "ambient": view.ambient, "noise_sigma": view.camera["noise"]}),
                "jpeg_quality": q,
            }
            real_id = f"{ident.name}_{stem}_real"
            img_dir = f"images/{chunk['domain']}/{ident.name}"
            _png(out / img_dir / f"{stem}_real.png", jpeg(raw, q))
            _png(out / base["face_mask_path"], fmask)
            _npy(out / f"landmarks/{ident.name}/{stem}_real.npy", lm)
            rows.append({"sample_id": real_id, "path": f"{img_dir}/{stem}_real.png", "label": 0,
                         "source": "real", "video_id": real_id, **base,
                         "mask_path": "masks/empty.png",
                         "landmarks_path": f"landmarks/{ident.name}/{stem}_real.npy",
                         "pair_id": real_id, "gen_params": ""})
            fid = f"{ident.name}_{stem}_{gname}"
            _png(out / img_dir / f"{stem}_{gname}.png", jpeg(res.image, q))
            mask_path = f"masks/{ident.name}/{stem}_{gname}.png"
            _png(out / mask_path, np.rint(res.mask * 255).astype(np.uint8))
            lm_path = f"landmarks/{ident.name}/{stem}_real.npy"
            if not np.allclose(res.landmarks, lm):
                lm_path = f"landmarks/{ident.name}/{stem}_{gname}.npy"
                _npy(out / lm_path, res.landmarks)
            rows.append({"sample_id": fid, "path": f"{img_dir}/{stem}_{gname}.png", "label": 1,
                         "source": gname, "video_id": fid, **base, "mask_path": mask_path,
                         "landmarks_path": lm_path, "pair_id": real_id,
                         "gen_params": json.dumps(_round(res.params), sort_keys=True)})
    rows_path = out / "rows" / f"{chunk['name']}.json"
    rows_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = rows_path.with_name(rows_path.name + ".tmp")
    tmp.write_text(json.dumps(rows, sort_keys=True))
    tmp.replace(rows_path)
    return rows


def _call(args):
    run_one, cfg, chunk, out = args
    return len(run_one(cfg, chunk, Path(out)))


def claim_folder(out: Path, config_text: str, what: str) -> None:
    """Record ``config_text`` in ``out/synth_config.json``; ConfigError when the folder already
    holds a ``what`` built with other options."""
    out.mkdir(parents=True, exist_ok=True)
    cfg_path = out / "synth_config.json"
    if cfg_path.exists() and cfg_path.read_text() != config_text:
        raise ConfigError(f"output folder holds a {what} built with other options",
                          path=out, hint="use a new --out folder or delete this one")
    cfg_path.write_text(config_text)


def build_chunks(out: Path, cfg, chunks: list[dict], run_one: Callable, *, workers: int,
                 order: list[str], progress: Callable[[int, int], None] | None = None,
                 prepare: Callable[[], None] | None = None) -> pd.DataFrame:
    """Run the chunks that have no ``rows/<name>.json`` yet (``run_one(cfg, chunk, out)``, a
    module-level function, in ``workers`` spawned processes when > 1), then write and return
    the manifest of all chunks (columns ``order`` first). A finished build is read back as it
    is. ``prepare()`` runs once before any chunk."""
    todo = [c for c in chunks if not (out / "rows" / f"{c['name']}.json").exists()]
    manifest_path = out / "manifest.csv"
    if not todo and manifest_path.exists():
        if progress:
            progress(len(chunks), len(chunks))
        return read_manifest(manifest_path)
    if prepare:
        prepare()
    done = len(chunks) - len(todo)
    if progress:
        progress(done, len(chunks))
    if workers > 1 and len(todo) > 1:
        with mp.get_context("spawn").Pool(min(workers, len(todo))) as pool:
            for _ in pool.imap_unordered(_call, [(run_one, cfg, c, str(out)) for c in todo]):
                done += 1
                if progress:
                    progress(done, len(chunks))
    else:
        for c in todo:
            run_one(cfg, c, out)
            done += 1
            if progress:
                progress(done, len(chunks))
    rows = []
    for c in chunks:
        rows.extend(json.loads((out / "rows" / f"{c['name']}.json").read_text()))
    df = pd.DataFrame(rows)
    df = df[order + [c for c in df.columns if c not in order]]
    write_manifest(df, manifest_path)
    return read_manifest(manifest_path)


MANIFEST_ORDER = ["sample_id", "path", "label", "source", "identity", "video_id", "frame", "split",
                  "domain", "skin_tone", "skin_tone_level", "gender", "age_group", "age",
                  "mask_path", "landmarks_path", "face_mask_path", "pair_id"]


def build_benchmark(out_dir: str | Path, *, identities: int = 250, images_per_identity: int = 10,
                    generators: tuple[str, ...] | list[str] = DEFAULT_GENERATORS,
                    domains: tuple[str, ...] | list[str] = DOMAINS, size: int = 128,
                    seed: int = 0, workers: int = 1, proportions: dict | None = None,
                    generator_opts: dict | None = None,
                    splits: tuple[float, float, float] = (0.7, 0.15, 0.15),
                    progress: Callable[[int, int], None] | None = None) -> pd.DataFrame:
    """Build (or resume, or reuse) the benchmark in ``out_dir``; returns the manifest.

    Every real image gets one fake; generators are assigned round-robin over
    ``identity * images_per_identity + k``. Identities alternate between ``domains`` and are
    split train/val/test by identity within each domain. ``progress(done_chunks, total)`` is
    called after each chunk. A different config in an existing ``out_dir`` raises ConfigError.
    """
    cfg = SynthConfig(identities=identities, images_per_identity=images_per_identity,
                      generators=tuple(generators), domains=tuple(domains), size=size, seed=seed,
                      proportions=proportions, generator_opts=dict(generator_opts or {}),
                      splits=tuple(splits)).check()
    out = Path(out_dir)
    claim_folder(out, cfg.to_json(), "benchmark")
    return build_chunks(out, cfg, plan(cfg), run_chunk, workers=workers, order=MANIFEST_ORDER,
                        progress=progress,
                        prepare=lambda: _png(out / "masks" / "empty.png",
                                             np.zeros((size, size), np.uint8)))
