"""Identities (fixed traits, demographic attributes) and per-image variation.

Attributes: ``skin_tone`` group (light = levels 1-3, medium = 4-7, dark = 8-10 of the 10-level
Monk skin-tone scale), ``gender`` presentation (female / male) and ``age_group`` (young 18-29,
middle 30-49, senior 50-80). Group counts follow the configured proportions exactly
(largest-remainder allocation, then a seeded shuffle), so a biased set is one option away.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from fakescope.errors import ConfigError

#: Monk skin-tone scale, levels 1..10 (sRGB).
MONK_RGB = np.array([
    (246, 237, 228), (243, 231, 219), (247, 234, 208), (234, 218, 186), (215, 189, 150),
    (160, 126, 86), (130, 92, 67), (96, 65, 52), (58, 49, 42), (41, 36, 32)], dtype=np.float64)
SKIN_GROUPS = {"light": (1, 2, 3), "medium": (4, 5, 6, 7), "dark": (8, 9, 10)}
AGE_GROUPS = {"young": (18, 29), "middle": (30, 49), "senior": (50, 80)}
GENDERS = ("female", "male")
DEFAULT_PROPORTIONS = {
    "skin_tone": {"light": 1 / 3, "medium": 1 / 3, "dark": 1 / 3},
    "gender": {"female": 0.5, "male": 0.5},
    "age_group": {"young": 1 / 3, "middle": 1 / 3, "senior": 1 / 3},
}
HAIR_STYLES = ("bald", "buzz", "short", "medium", "long", "bun", "curly")
HAIR_COLOURS = {
    "black": (22, 18, 16), "dark_brown": (48, 32, 24), "brown": (90, 60, 38),
    "light_brown": (140, 100, 64), "blonde": (200, 165, 110), "red": (150, 70, 35),
}
IRIS_COLOURS = {
    "dark_brown": (55, 35, 22), "brown": (100, 62, 30), "hazel": (120, 95, 50),
    "green": (80, 110, 70), "blue": (80, 120, 160), "grey": (115, 125, 130),
}
FACIAL_HAIR = ("none", "stubble", "moustache", "goatee", "beard")
DOMAINS = ("studio", "phone")


@dataclass
class Identity:
    """Fixed traits of one synthetic person (attributes + raw parameters)."""

    index: int
    skin_tone: str
    skin_tone_level: int
    gender: str
    age_group: str
    age: int
    shape: dict
    skin_rgb: np.ndarray
    lip_rgb: np.ndarray
    hair_style: str
    hair_colour: str
    hair_rgb: np.ndarray
    hair_volume: float
    hairline: float
    iris: str
    facial_hair: str
    glasses: bool
    glasses_rgb: tuple
    freckles: float
    wrinkles: float
    clothing_rgb: np.ndarray
    ear_size: float
    extra: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"id{self.index:05d}"


def allocate(n: int, proportions: dict[str, float], rng: np.random.Generator) -> list[str]:
    """``n`` labels whose counts follow ``proportions`` (largest remainder), shuffled by ``rng``."""
    keys = list(proportions)
    w = np.array([float(proportions[k]) for k in keys])
    if len(keys) == 0 or (w < 0).any() or w.sum() <= 0:
        raise ConfigError(f"bad group proportions {proportions!r}",
                          hint="give non-negative weights with a positive sum")
    w = w / w.sum()
    counts = np.floor(w * n).astype(int)
    rest = np.argsort(-(w * n - counts), kind="stable")[: n - counts.sum()]
    counts[rest] += 1
    labels = [k for k, c in zip(keys, counts, strict=True) for _ in range(c)]
    rng.shuffle(labels)
    return labels


def check_proportions(proportions: dict | None) -> dict:
    """Merge user proportions into the defaults; unknown attribute or group -> ConfigError."""
    out = {k: dict(v) for k, v in DEFAULT_PROPORTIONS.items()}
    for attr, groups in (proportions or {}).items():
        if attr not in out:
            raise ConfigError(f"unknown attribute {attr!r} in group proportions",
                              hint=f"use {', '.join(out)}")
        valid = set(out[attr])
        bad = set(groups) - valid
        if bad:
            raise ConfigError(f"unknown {attr} group(s) {sorted(bad)}",
                              hint=f"use {', '.join(sorted(valid))}")
        out[attr] = {k: float(groups.get(k, 0.0)) for k in out[attr]}
    return out


def _shape(rng: np.random.Generator, male: bool, age: int) -> dict:
    n = rng.normal
    return {
        "face_width": float(np.clip(n(1.0 + 0.03 * male, 0.04), 0.88, 1.14)),
        "jaw_width": float(np.clip(n(1.0 + 0.06 * male, 0.05), 0.85, 1.18)),
        "chin_length": float(np.clip(n(1.0 + 0.04 * male, 0.06), 0.85, 1.2)),
        "eye_size": float(np.clip(n(1.18 - 0.05 * male, 0.07), 1.0, 1.4)),
        "eye_spacing": float(np.clip(n(1.0, 0.06), 0.85, 1.15)),
        "eye_tilt": float(n(0.0, 0.06)),
        "nose_width": float(np.clip(n(1.0 + 0.08 * male, 0.1), 0.8, 1.35)),
        "nose_length": float(np.clip(n(1.0 + 0.04 * male, 0.06), 0.85, 1.18)),
        "mouth_width": float(np.clip(n(1.0, 0.07), 0.85, 1.2)),
        "lip_thickness": float(np.clip(n(1.0 + 0.1 * (not male) - 0.002 * (age - 30), 0.15),
                                       0.6, 1.5)),
        "brow_height": float(n(0.0, 0.012)),
        "brow_arch": float(n(0.015 * (not male), 0.01)),
        "brow_thickness": float(np.clip(n(1.0 + 0.35 * male, 0.2), 0.5, 1.8)),
        "offsets": rng.normal(0, 0.005, (68, 2)),
    }


def make_identity(index: int, *, skin_tone: str, gender: str, age_group: str,
                  rng: np.random.Generator) -> Identity:
    """Sample the fixed traits of identity ``index`` given its three group attributes."""
    male = gender == "male"
    level = int(rng.choice(SKIN_GROUPS[skin_tone]))
    lo, hi = AGE_GROUPS[age_group]
    age = int(rng.integers(lo, hi + 1))
    base = MONK_RGB[level - 1]
    tint = np.array([1.0 + rng.normal(0.02, 0.03), 1.0 + rng.normal(-0.01, 0.02),
                     1.0 + rng.normal(-0.03, 0.03)])
    # photographed skin is darker and pinker than the swatch
    skin = np.clip(base * tint * np.array([0.93, 0.8, 0.76]) * (0.92 if level <= 3 else 1.0), 15, 245)
    lip = np.clip(skin * np.array([0.88, 0.62, 0.64]) + np.array([18, 0, 4]), 20, 240)
    if not male and rng.random() < 0.35:  # lipstick
        lip = np.clip(lip * np.array([1.0, 0.7, 0.72]) + np.array([40, 0, 8]), 20, 240)
    dark = level >= 7
    hair_names = list(HAIR_COLOURS)
    hp = np.array([0.45, 0.3, 0.12, 0.05, 0.05, 0.03]) if dark else np.array(
        [0.15, 0.25, 0.22, 0.14, 0.16, 0.08])
    hair_colour = str(rng.choice(hair_names, p=hp / hp.sum()))
    hair_rgb = np.array(HAIR_COLOURS[hair_colour], float) * rng.uniform(0.85, 1.15)
    grey = np.clip((age - 38) / 35, 0, 1) * rng.uniform(0.3, 1.0)
    hair_rgb = (1 - grey) * hair_rgb + grey * np.array([175, 172, 168])
    if grey > 0.5:
        hair_colour = "grey"
    if male:
        sp = np.array([0.07 + 0.004 * max(age - 35, 0), 0.18, 0.45, 0.15, 0.04, 0.0, 0.11])
    else:
        sp = np.array([0.0, 0.02, 0.12, 0.3, 0.38, 0.1, 0.08])
    hair_style = str(rng.choice(HAIR_STYLES, p=sp / sp.sum()))
    iris_names = list(IRIS_COLOURS)
    ip = np.array([0.8, 0.17, 0.03, 0.0, 0.0, 0.0]) if dark else np.array(
        [0.2, 0.3, 0.15, 0.1, 0.18, 0.07])
    iris = str(rng.choice(iris_names, p=ip / ip.sum()))
    facial_hair = "none"
    if male and rng.random() < 0.45:
        facial_hair = str(rng.choice(FACIAL_HAIR[1:], p=[0.35, 0.15, 0.15, 0.35]))
    glasses = bool(rng.random() < 0.12 + 0.25 * (age >= 50))
    g = rng.choice([(20, 20, 22), (60, 40, 30), (150, 150, 155), (90, 20, 30)])
    clothing = rng.uniform(20, 220, 3)
    return Identity(
        index=index, skin_tone=skin_tone, skin_tone_level=level, gender=gender,
        age_group=age_group, age=age, shape=_shape(rng, male, age), skin_rgb=skin, lip_rgb=lip,
        hair_style=hair_style, hair_colour=hair_colour, hair_rgb=hair_rgb,
        hair_volume=float(rng.uniform(0.02, 0.09)), hairline=float(rng.uniform(-0.56, -0.44)
                                                                     + 0.003 * max(age - 40, 0) * male),
        iris=iris, facial_hair=facial_hair, glasses=glasses, glasses_rgb=tuple(int(v) for v in g),
        freckles=float(rng.random() < 0.12 and level <= 4) * rng.uniform(0.3, 1.0),
        wrinkles=float(np.clip((age - 28) / 45, 0, 1)) * rng.uniform(0.6, 1.2),
        clothing_rgb=clothing, ear_size=float(rng.uniform(0.9, 1.12)),
    )


def make_identities(n: int, *, seed: int, proportions: dict | None = None) -> list[Identity]:
    """``n`` identities with group attributes allocated by ``proportions`` (see module doc)."""
    props = check_proportions(proportions)
    rng = np.random.default_rng(np.random.SeedSequence([seed, 7001]))
    cols = {attr: allocate(n, props[attr], rng) for attr in ("skin_tone", "gender", "age_group")}
    return [make_identity(i, skin_tone=cols["skin_tone"][i], gender=cols["gender"][i],
                          age_group=cols["age_group"][i],
                          rng=np.random.default_rng(np.random.SeedSequence([seed, 7002, i])))
            for i in range(n)]


@dataclass
class View:
    """Per-image variation: pose, expression, light, camera and background (raw parameters)."""

    domain: str
    yaw: float
    pitch: float
    roll: float
    scale: float
    centre: tuple
    expr: dict
    gaze: tuple
    light: np.ndarray
    ambient: float
    light_rgb: np.ndarray
    camera: dict
    background: dict
    seed: int


def sample_view(rng: np.random.Generator, domain: str) -> View:
    """Sample one image's variation; ``domain`` (studio / phone) shifts light, camera, background."""
    if domain not in DOMAINS:
        raise ConfigError(f"unknown domain {domain!r}", hint=f"use {', '.join(DOMAINS)}")
    studio = domain == "studio"
    yaw = float(np.clip(rng.normal(0, 12 if studio else 15), -32, 32))
    expr = {
        "smile": float(rng.beta(1.2, 2.2)) if rng.random() < 0.6 else 0.0,
        "mouth_open": float(rng.beta(1.2, 3.0)) if rng.random() < 0.35 else 0.0,
        "brow_raise": float(rng.uniform(-0.2, 1.0)) if rng.random() < 0.4 else 0.0,
        "eye_open": float(np.clip(rng.normal(1.3, 0.12), 0.8, 1.6)),
        "frown": float(rng.uniform(0, 1)) if rng.random() < 0.15 else 0.0,
    }
    az = rng.uniform(-55, 55) if studio else rng.uniform(-80, 80)
    el = rng.uniform(10, 45) if studio else rng.uniform(-10, 60)
    a, e = np.deg2rad([az, el])
    light = np.array([np.sin(a) * np.cos(e), -np.sin(e), np.cos(a) * np.cos(e)])
    if studio:
        temp = rng.normal(0, 0.02)
        camera = {"wb": [1 + temp, 1.0, 1 - temp], "blur": float(rng.uniform(0.0, 0.5)),
                  "noise": float(rng.uniform(0.8, 2.2)), "chroma_noise": 0.2,
                  "jpeg": int(rng.integers(86, 99)), "downscale": 1.0, "sharpen": 0.0,
                  "gamma": float(rng.uniform(0.95, 1.05)), "exposure": float(rng.uniform(0.97, 1.05))}
    else:
        temp = rng.normal(0, 0.08)
        camera = {"wb": [1 + temp + rng.normal(0, 0.02), 1.0 + rng.normal(0, 0.02), 1 - temp],
                  "blur": float(rng.uniform(0.2, 0.9)), "noise": float(rng.uniform(2.5, 6.5)),
                  "chroma_noise": 0.6, "jpeg": int(rng.integers(55, 86)),
                  "downscale": float(rng.uniform(0.55, 0.85)),
                  "sharpen": float(rng.uniform(0.2, 0.9)),
                  "gamma": float(rng.uniform(0.85, 1.15)), "exposure": float(rng.uniform(0.85, 1.15))}
    return View(
        domain=domain, yaw=yaw, pitch=float(np.clip(rng.normal(0, 7), -18, 18)),
        roll=float(np.clip(rng.normal(0, 4 if studio else 7), -15, 15)),
        scale=float(rng.uniform(0.53, 0.6)),
        centre=(float(0.5 + rng.normal(0, 0.015)), float(0.5 + rng.normal(0, 0.015))),
        expr=expr, gaze=(float(rng.normal(0, 0.12)), float(rng.normal(0, 0.06))),
        light=light, ambient=float(rng.uniform(0.3, 0.45) if studio else rng.uniform(0.15, 0.4)),
        light_rgb=np.array([1.0, 1.0, 1.0]) + (rng.normal(0, 0.02, 3) if studio
                                               else rng.normal(0, 0.06, 3)),
        camera=camera,
        background={"kind": domain, "seed": int(rng.integers(2**31))},
        seed=int(rng.integers(2**31)),
    )
