"""Detectors: a registry of architectures, one Detector module, safetensors checkpoints."""

from fakescope.models.detector import Detector, p_fake
from fakescope.models.registry import create_detector, list_detectors, register_detector

__all__ = ["Detector", "create_detector", "list_detectors", "p_fake", "register_detector"]
