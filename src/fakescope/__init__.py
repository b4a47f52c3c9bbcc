"""fakescope: trustworthy deepfake detection.

Detectors, uncertainty, fairness and backbone separability around one scores table.
"""

__version__ = "0.1.0"
