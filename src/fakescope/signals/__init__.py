"""Biological signals from face video (layer 2, pure numpy / scipy / OpenCV, no video I/O).

- :mod:`~fakescope.signals.regions`: facial regions and the mid-face grid from 68 landmarks.
- :mod:`~fakescope.signals.traces`: mean RGB per region / grid cell per frame; gap filling.
- :mod:`~fakescope.signals.rppg`: GREEN / CHROM / POS pulse signals, heart rate and SNR.
- :mod:`~fakescope.signals.motion`: optical flow per region, head-normalised landmark jitter.
"""

from fakescope.signals.motion import (
    FLOW_METHODS,
    flow_traces,
    grid_flow_traces,
    jitter,
    landmark_trajectories,
)
from fakescope.signals.regions import (
    REGIONS,
    face_grid,
    grid_masks,
    midface_quad,
    region_masks,
    region_polygons,
)
from fakescope.signals.rppg import (
    METHODS,
    MIN_SECONDS,
    HeartRate,
    bandpass,
    check_length,
    estimate_heart_rate,
    heart_rate,
    pulse_signal,
)
from fakescope.signals.traces import grid_traces, interpolate_gaps, region_traces

__all__ = [
    "FLOW_METHODS", "METHODS", "MIN_SECONDS", "REGIONS", "HeartRate", "bandpass",
    "check_length", "estimate_heart_rate", "face_grid", "flow_traces", "grid_flow_traces",
    "grid_masks", "grid_traces", "heart_rate", "interpolate_gaps", "jitter",
    "landmark_trajectories", "midface_quad", "pulse_signal", "region_masks", "region_polygons",
    "region_traces",
]
