"""Fake generators: nine manipulation families that run on any aligned face crop + 68 landmarks.

``create_generator(name, **opts)`` / ``list_generators(pattern=None)``; each generator returns a
:class:`FakeResult` (image, manipulation mask, source name, landmarks, drawn parameters).
Importing this package registers the nine built-ins (:mod:`.blending`, :mod:`.local`,
:mod:`.spectral`).
"""

from fakescope.data.generators import blending, local, spectral  # noqa: F401  (built-ins)
from fakescope.data.generators.base import (
    DEFAULT_GENERATORS,
    FakeResult,
    Generator,
    create_generator,
    list_generators,
    register_generator,
)

__all__ = ["DEFAULT_GENERATORS", "FakeResult", "Generator", "create_generator",
           "list_generators", "register_generator"]
