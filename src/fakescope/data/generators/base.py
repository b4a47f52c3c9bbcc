"""Generator interface and registry (the built-ins register when :mod:`fakescope.data.generators`
is imported).

A generator is called as ``gen(image, landmarks, rng, donor=None) -> FakeResult`` on an aligned
RGB uint8 face crop ``(H, W, 3)`` with 68 iBUG landmarks ``(68, 2)``; ``rng`` is a
``numpy.random.Generator`` (all randomness comes from it) and ``donor`` an optional
``(image, landmarks)`` pair of another identity (swap / morph; if omitted the mirrored input is
used). Strength parameters are drawn from documented ranges, which ``create_generator(name,
**ranges)`` can override (e.g. ``create_generator("sbi", blend=(0.5, 1.0))``); ``strength``
scales every amplitude-like range (1.0 = defaults).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from fakescope.errors import ConfigError
from fakescope.registry import Registry


@dataclass
class FakeResult:
    """A fake: ``image`` uint8 ``(H, W, 3)``, ``mask`` float32 ``(H, W)`` in [0, 1] (the blend
    weight of manipulated content; 0 = pixel untouched), ``source`` generator name, the fake's
    ``landmarks`` ``(68, 2)`` and the drawn strength ``params``."""

    image: np.ndarray
    mask: np.ndarray
    source: str
    landmarks: np.ndarray
    params: dict = field(default_factory=dict)


class Generator:
    """Base class: subclasses set ``name``, ``ranges`` (name -> (lo, hi)) and implement
    ``generate``; amplitude-like ranges listed in ``scaled`` are multiplied by ``strength``."""

    name = "base"
    needs_donor = False
    ranges: dict[str, tuple[float, float]] = {}
    scaled: tuple[str, ...] = ()

    def __init__(self, *, strength: float = 1.0, **ranges):
        if strength <= 0:
            raise ConfigError(f"{self.name}: strength must be > 0, got {strength}")
        unknown = set(ranges) - set(self.ranges)
        if unknown:
            raise ConfigError(f"{self.name}: unknown option(s) {sorted(unknown)}",
                              hint=f"options: strength, {', '.join(self.ranges)}")
        self.r = dict(self.ranges)
        for k, v in ranges.items():
            lo, hi = (float(v), float(v)) if np.isscalar(v) else (float(v[0]), float(v[1]))
            if lo > hi:
                raise ConfigError(f"{self.name}: range {k}={v} has low > high")
            self.r[k] = (lo, hi)
        for k in self.scaled:
            lo, hi = self.r[k]
            self.r[k] = (lo * strength, hi * strength)
        self.strength = strength

    def draw(self, rng: np.random.Generator, key: str) -> float:
        lo, hi = self.r[key]
        return float(rng.uniform(lo, hi))

    def __call__(self, image: np.ndarray, landmarks: np.ndarray, rng: np.random.Generator,
                 donor: tuple[np.ndarray, np.ndarray] | None = None) -> FakeResult:
        from fakescope.data.generators.ops import changed_mask, check_face
        img, lm = check_face(image, landmarks)
        res = self.generate(img, lm, rng, donor)
        res.mask = changed_mask(img, res.image, res.mask.astype(np.float32))
        res.landmarks = np.asarray(res.landmarks, np.float32)
        return res

    def generate(self, img, lm, rng, donor) -> FakeResult:  # pragma: no cover - abstract
        raise NotImplementedError


#: generator name -> Generator subclass (``cls(**opts)`` builds it).
GENERATORS: Registry[type[Generator]] = Registry("generator", error=ConfigError)


def register_generator(cls):
    """Class decorator: make ``cls`` available to :func:`create_generator` under ``cls.name``;
    a name already registered raises ValueError."""
    return GENERATORS.add(cls.name, cls)


#: The nine built-in generators in their canonical order (round-robin order of the benchmark).
DEFAULT_GENERATORS = ("face_swap", "sbi", "eigenswap", "gan_upsample", "reenact",
                      "neural_texture", "diffusion_inpaint", "morph", "full_synthesis")


def list_generators(pattern: str | None = None) -> list[str]:
    """Names of the registered generators (optionally matching an fnmatch ``pattern``): the
    built-in nine first, in canonical order, then the others sorted."""
    names = GENERATORS.list(pattern)
    return [n for n in DEFAULT_GENERATORS if n in names] + [
        n for n in names if n not in DEFAULT_GENERATORS]


def create_generator(name: str, **opts) -> Generator:
    """Instantiate generator ``name`` with optional range overrides / ``strength``."""
    return GENERATORS.create(name, **opts)
