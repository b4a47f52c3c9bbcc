"""SynthFaces: a seeded procedural renderer of 'real' faces with known attributes, landmarks,
identities and domains, and the benchmark builder that pairs them with generator fakes."""

from fakescope.data.synthfaces.camera import jpeg, sensor
from fakescope.data.synthfaces.render import RenderedFace, render_face
from fakescope.data.synthfaces.traits import (
    DOMAINS,
    Identity,
    View,
    make_identities,
    sample_view,
)

__all__ = ["DOMAINS", "Identity", "RenderedFace", "View", "jpeg", "make_identities",
           "render_face", "sample_view", "sensor"]
