"""Build SynthFaces video: real clips with a pulse and motion, one fake clip each.

Same identities, demographics, domains and train/val/test splits as the still benchmark built
with the same ``seed``, ``identities``, ``domains``, ``splits`` and ``proportions``
(:func:`fakescope.data.synthfaces.build.plan`). Layout under ``out_dir``::

    videos/<domain>/<identity>/<k>_real.mp4, <k>_<generator>.mp4
    truth/<identity>/<k>_real.npz   landmarks (T, 68, 2), face_masks (T, S, S) uint8,
                                    pulse (T,), region_pulse (T, 5), times (T,)
    truth/<identity>/<k>_<generator>.npz   landmarks, masks (T, S, S) uint8 manipulation
                                    mask, pulse (T,) the pulse visible in the face (the donor's
                                    for a swap; zeros when there is none), target_pulse (T,)
    rows/<chunk>.json, manifest.csv, synth_config.json

**How each fake treats the pulse** follows from what its generator does to pixels:

- swaps (``face_swap``, ``eigenswap``) and ``morph`` paste the donor clip's frame ``t`` (another
  identity with its own pulse, heart rate and motion) onto the target's frame ``t``;
- ``reenact`` warps the target's own frames (its pulse stays) to the *driving* clip's mouth,
  smile, brow and blink at frame ``t``;
- ``full_synthesis`` renders the frames from scratch: the clip is re-rendered without a pulse,
  or (half of the clips) with a *rendered* pulse that is the same over the whole face, with no
  regional weights or delays, before the generator's rendering pipeline runs;
- ``sbi``, ``gan_upsample``, ``neural_texture`` and ``diffusion_inpaint`` filter / blend the
  target's frames: whatever their filtering does to a slow colour change is what the pulse gets.

**Temporal modes.** ``consistent``: the generator's random draws (strengths, noise patterns)
are the same on every frame. ``flicker``: every frame draws afresh, and the landmarks the
generator uses carry independent 0.8 px (at 128 px) detection jitter, as a per-frame pipeline
has. Fakes alternate between the modes.

The codec is H.264 (PyAV / libx264), CRF drawn per clip: studio 0-6 (near-lossless masters,
like FF++ raw/c0), phone 18-28 (FF++ c23-like and social-media rates); the real and its fake get
the same CRF (``crf`` option). Compression is what limits the pulse most: at CRF above about 8
the sub-level colour change of a dark face is quantised away (McDuff et al. 2017 found the same
for real cameras); docs/synthfaces-video.md gives the measured heart-rate error per domain.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from fakescope.data.generators import DEFAULT_GENERATORS, create_generator
from fakescope.data.synthfaces.build import (
    SynthConfig,
    _round,
    _ss,
    build_chunks,
    claim_folder,
    plan,
    single_threaded,
)
from fakescope.data.synthfaces.clip import RenderedClip, render_clip, sample_timeline
from fakescope.data.synthfaces.physiology import (
    DEFAULT_AMPLITUDE,
    draw_pulse,
    instantaneous_hr,
)
from fakescope.data.synthfaces.traits import DOMAINS, make_identities, sample_view
from fakescope.data.video_stream import write_clip
from fakescope.errors import ConfigError

SYNTH_VIDEO_VERSION = 1
TEMPORAL_MODES = ("consistent", "flicker")
DONOR_GENERATORS = ("face_swap", "eigenswap", "morph")
#: Pixel jitter (at 128 px) of the landmarks a per-frame ("flicker") generator sees.
FLICKER_JITTER = 0.8


@dataclass
class VideoSynthConfig:
    """Video benchmark options (see module doc); ``pulse_amplitude`` is the documented
    assumption of the benchmark: the fraction of the pixel value one std of the pulse darkens
    the forehead (range drawn per clip)."""

    identities: int = 250
    clips_per_identity: int = 2
    seconds: float = 8.0
    fps: float = 30.0
    generators: tuple[str, ...] = DEFAULT_GENERATORS
    domains: tuple[str, ...] = DOMAINS
    size: int = 128
    seed: int = 0
    proportions: dict | None = None
    generator_opts: dict = field(default_factory=dict)
    splits: tuple[float, float, float] = (0.7, 0.15, 0.15)
    temporal_modes: tuple[str, ...] = TEMPORAL_MODES
    pulse_amplitude: tuple[float, float] = DEFAULT_AMPLITUDE
    hr_range: tuple[float, float] = (45.0, 150.0)
    crf: dict = field(default_factory=lambda: {"studio": (0, 6), "phone": (18, 28)})

    def still(self) -> SynthConfig:
        """The still-benchmark config with the same people, domains and splits."""
        return SynthConfig(identities=self.identities, images_per_identity=self.clips_per_identity,
                           generators=self.generators, domains=self.domains, size=self.size,
                           seed=self.seed, proportions=self.proportions,
                           generator_opts=self.generator_opts, splits=self.splits)

    def check(self) -> VideoSynthConfig:
        self.still().check()
        if not 1.0 <= self.seconds <= 120.0:
            raise ConfigError(f"clip length {self.seconds} s out of range", hint="use 1-120 s")
        if not 5.0 <= self.fps <= 120.0:
            raise ConfigError(f"fps {self.fps} out of range", hint="use 5-120")
        if self.size % 2:
            raise ConfigError(f"video size {self.size} must be even (H.264 4:2:0)")
        bad = [m for m in self.temporal_modes if m not in TEMPORAL_MODES]
        if bad or not self.temporal_modes:
            raise ConfigError(f"unknown temporal mode(s) {bad}",
                              hint=f"use {', '.join(TEMPORAL_MODES)}")
        lo, hi = self.pulse_amplitude
        if not 0 <= lo <= hi <= 0.05:
            raise ConfigError(f"pulse amplitude range {self.pulse_amplitude}",
                              hint="fractions of the pixel value, 0 <= lo <= hi <= 0.05")
        lo, hi = self.hr_range
        if not 30 <= lo <= hi <= 220:
            raise ConfigError(f"heart-rate range {self.hr_range}", hint="bpm, 30 <= lo <= hi <= 220")
        for k in ("generators", "domains", "splits", "temporal_modes", "pulse_amplitude",
                  "hr_range"):
            setattr(self, k, tuple(getattr(self, k)))
        crf = {d: tuple(int(v) for v in r) for d, r in dict(self.crf).items()}
        for d in self.domains:
            lo, hi = crf.get(d, (-1, -1))
            if not 0 <= lo <= hi <= 51:
                raise ConfigError(f"CRF range for domain {d!r}: {self.crf.get(d)}",
                                  hint="give {domain: (lo, hi)} with 0 <= lo <= hi <= 51")
        self.crf = crf
        return self

    @property
    def n_frames(self) -> int:
        return int(round(self.seconds * self.fps))

    def to_json(self) -> str:
        d = asdict(self)
        for k in ("generators", "domains", "splits", "temporal_modes", "pulse_amplitude",
                  "hr_range"):
            d[k] = list(d[k])
        d["crf"] = {k: list(v) for k, v in sorted(d["crf"].items())}
        d["synth_video_version"] = SYNTH_VIDEO_VERSION
        return json.dumps(d, sort_keys=True, indent=1)


@dataclass
class _Real:
    anchor: object
    timeline: object
    pulse: object
    clip: RenderedClip
    crf: int


def _render_real(cfg: VideoSynthConfig, ident, i: int, k: int, domain: str) -> _Real:
    rng = _ss(cfg, 20, i, k)
    anchor = sample_view(rng, domain)
    tl = sample_timeline(rng, anchor, cfg.n_frames, cfg.fps)
    pulse = draw_pulse(rng, hr_range=cfg.hr_range, amplitude=cfg.pulse_amplitude)
    lo, hi = cfg.crf[domain]
    crf = int(rng.integers(lo, hi + 1))
    clip = render_clip(ident, anchor, tl, pulse, size=cfg.size, noise_rng=_ss(cfg, 21, i, k))
    return _Real(anchor, tl, pulse, clip, crf)


def _reenact_drive(tl, t: int) -> dict:
    """Reenactment strengths at frame ``t`` from the driving clip's expression."""
    eo = tl.eye_open / max(float(tl.eye_open.max()), 1e-6)
    return {"open": 0.02 + 0.06 * float(tl.mouth_open[t]),
            "smile": -0.03 + 0.09 * float(tl.smile[t]),
            "brow": -0.02 + 0.06 * float(np.clip(tl.brow_raise[t], 0, 1)),
            "blink": float(np.clip(0.4 * (1 - eo[t]) / 0.9, 0, 0.4))}


def make_fake(cfg: VideoSynthConfig, gname: str, mode: str, target: _Real, donor: _Real | None,
              ident, i: int, k: int) -> dict:
    """Apply generator ``gname`` frame by frame; returns frames, masks, landmarks, pulses,
    params and the pulse source (see module doc)."""
    T, S = cfg.n_frames, cfg.size
    opts = cfg.generator_opts.get(gname, {})
    gen = create_generator(gname, **opts)
    src = target.clip
    pulse_source, visible = "own", target.clip.pulse
    if gname == "full_synthesis":
        rng = _ss(cfg, 23, i, k)
        rendered = bool(rng.random() < 0.5)
        pulse = draw_pulse(rng, hr_range=cfg.hr_range, amplitude=cfg.pulse_amplitude,
                           uniform=True) if rendered else None
        src = render_clip(ident, target.anchor, target.timeline, pulse, size=S,
                          noise_rng=_ss(cfg, 21, i, k))
        pulse_source = "rendered" if rendered else "none"
        visible = src.pulse
    elif gname in DONOR_GENERATORS and donor is not None:
        pulse_source, visible = "donor", donor.clip.pulse
    jitter_rng = _ss(cfg, 24, i, k)
    frames = np.empty_like(src.frames)
    masks = np.empty((T, S, S), np.uint8)
    lms = np.empty((T, 68, 2), np.float32)
    params: list[dict] = []
    for t in range(T):
        if mode == "consistent":
            rng = _ss(cfg, 22, i, k)
            lm = src.landmarks[t]
        else:
            rng = np.random.default_rng(np.random.SeedSequence([cfg.seed, 22, i, k, t]))
            lm = src.landmarks[t] + jitter_rng.normal(0, FLICKER_JITTER * S / 128, (68, 2))
        d = None
        if donor is not None:
            td = t % donor.clip.frames.shape[0]
            d = (donor.clip.frames[td], donor.clip.landmarks[td])
        g = gen
        if gname == "reenact" and donor is not None:
            g = create_generator("reenact", **{**opts, **_reenact_drive(donor.timeline, t)})
        res = g(src.frames[t], lm, rng, donor=d)
        frames[t] = res.image
        masks[t] = np.rint(res.mask * 255).astype(np.uint8)
        lms[t] = res.landmarks
        if t == 0 or mode == "flicker":
            params.append(_round(res.params))
    return {"frames": frames, "masks": masks, "landmarks": lms, "pulse": visible,
            "pulse_source": pulse_source, "params": params}


def _save_npz(path: Path, **arrays) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.stem + ".tmp.npz")
    np.savez_compressed(tmp, **arrays)
    tmp.replace(path)


def _mean_hr(pulse, t) -> float:
    return float(np.mean(instantaneous_hr(pulse, t))) if pulse is not None else float("nan")


def run_video_chunk(cfg: VideoSynthConfig, chunk: dict, out: Path) -> list[dict]:
    """Render one chunk's real clips and their fakes, write files; returns its manifest rows."""
    with single_threaded():
        return _run_video_chunk(cfg, chunk, out)


def _run_video_chunk(cfg: VideoSynthConfig, chunk: dict, out: Path) -> list[dict]:
    idents = make_identities(cfg.identities, seed=cfg.seed, proportions=cfg.proportions)
    K, G = cfg.clips_per_identity, len(cfg.generators)
    reals = {(i, k): _render_real(cfg, idents[i], i, k, chunk["domain"])
             for i in chunk["identities"] for k in range(K)}
    rows: list[dict] = []
    for i in chunk["identities"]:
        ident = idents[i]
        others = [j for j in chunk["identities"] if j != i]
        for k in range(K):
            real = reals[i, k]
            t = real.timeline.times
            u = i * K + k
            gname = cfg.generators[u % G]
            mode = cfg.temporal_modes[(u // G) % len(cfg.temporal_modes)]
            rng = _ss(cfg, 3, i, k)
            donor, donor_name = None, ""
            if others:
                j = others[int(rng.integers(len(others)))]
                donor, donor_name = reals[j, int(rng.integers(K))], idents[j].name
            stem = f"{k:03d}"
            vdir = f"videos/{chunk['domain']}/{ident.name}"
            base = {
                "identity": ident.name, "split": chunk["split"], "domain": chunk["domain"],
                "skin_tone": ident.skin_tone, "skin_tone_level": ident.skin_tone_level,
                "gender": ident.gender, "age_group": ident.age_group, "age": ident.age,
                "fps": cfg.fps, "n_frames": cfg.n_frames, "crf": real.crf,
                "motion": json.dumps(real.timeline.params, sort_keys=True),
            }
            real_id = f"{ident.name}_{stem}_real"
            write_clip(out / vdir / f"{stem}_real.mp4", real.clip.frames, cfg.fps,
                       codec="h264", crf=real.crf)
            _save_npz(out / f"truth/{ident.name}/{stem}_real.npz",
                      landmarks=real.clip.landmarks, face_masks=real.clip.face_masks,
                      pulse=real.clip.pulse, region_pulse=real.clip.region_pulse, times=t)
            rows.append({"sample_id": real_id, "path": f"{vdir}/{stem}_real.mp4", "label": 0,
                         "source": "real", "video_id": real_id, **base,
                         "truth_path": f"truth/{ident.name}/{stem}_real.npz",
                         "landmarks_path": f"truth/{ident.name}/{stem}_real.npz",
                         "pair_id": real_id, "temporal_mode": "", "pulse_source": "own",
                         "hr_bpm": round(_mean_hr(real.pulse, t), 3),
                         "pulse_amplitude": round(real.pulse.amplitude, 5), "donor": "",
                         "gen_params": ""})
            fake = make_fake(cfg, gname, mode, real, donor, ident, i, k)
            fid = f"{ident.name}_{stem}_{gname}"
            write_clip(out / vdir / f"{stem}_{gname}.mp4", fake["frames"], cfg.fps,
                       codec="h264", crf=real.crf)
            truth = f"truth/{ident.name}/{stem}_{gname}.npz"
            _save_npz(out / truth, landmarks=fake["landmarks"], masks=fake["masks"],
                      pulse=fake["pulse"], target_pulse=real.clip.pulse, times=t)
            # the rate of the pulse in the face; empty for none and for a rendered one (its
            # per-frame wave is in the truth file, its rate is not recorded)
            hr = _mean_hr({"own": real.pulse, "donor": donor.pulse if donor else None}
                          .get(fake["pulse_source"]), t)
            rows.append({"sample_id": fid, "path": f"{vdir}/{stem}_{gname}.mp4", "label": 1,
                         "source": gname, "video_id": fid, **base, "truth_path": truth,
                         "landmarks_path": truth, "pair_id": real_id, "temporal_mode": mode,
                         "pulse_source": fake["pulse_source"], "hr_bpm": round(hr, 3),
                         "pulse_amplitude": round(real.pulse.amplitude, 5),
                         "donor": donor_name if gname in (*DONOR_GENERATORS, "reenact") else "",
                         "gen_params": json.dumps(fake["params"][0] if mode == "consistent"
                                                  else {"per_frame": True,
                                                        "first": fake["params"][0]},
                                                  sort_keys=True)})
    rows_path = out / "rows" / f"{chunk['name']}.json"
    rows_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = rows_path.with_name(rows_path.name + ".tmp")
    tmp.write_text(json.dumps(rows, sort_keys=True))
    tmp.replace(rows_path)
    return rows


MANIFEST_ORDER = ["sample_id", "path", "label", "source", "identity", "video_id", "split",
                  "domain", "skin_tone", "skin_tone_level", "gender", "age_group", "age", "fps",
                  "n_frames", "hr_bpm", "pulse_source", "temporal_mode", "pair_id",
                  "truth_path", "landmarks_path"]


def build_video_benchmark(out_dir: str | Path, *, workers: int = 1,
                          progress: Callable[[int, int], None] | None = None,
                          **options) -> pd.DataFrame:
    """Build (or resume, or reuse) SynthFaces video in ``out_dir``; returns the manifest.

    ``options`` are :class:`VideoSynthConfig` fields. Every real clip gets one fake; generators
    go round-robin over ``identity * clips_per_identity + k`` and the temporal mode alternates
    every len(generators) clips. A different config in an existing ``out_dir`` raises
    ConfigError; finished chunks are kept and skipped on a rerun.
    """
    unknown = set(options) - set(VideoSynthConfig.__dataclass_fields__)
    if unknown:
        raise ConfigError(f"unknown video option(s) {sorted(unknown)}")
    cfg = VideoSynthConfig(**options).check()
    out = Path(out_dir)
    claim_folder(out, cfg.to_json(), "video benchmark")
    return build_chunks(out, cfg, plan(cfg.still()), run_video_chunk, workers=workers,
                        order=MANIFEST_ORDER, progress=progress)
