"""The study on a video manifest: what each detector trains on and which clips it is tested on.

A manifest is a *video manifest* when its paths are video files (:func:`is_video_manifest`).
Then every detector answers per clip (:mod:`.clips`):

- a **blind** detector (any image detector) trains on ``frames_per_clip`` evenly spaced face
  crops per clip (:func:`fakescope.experiments.video.frames.frame_manifest`, written once under
  ``OUT/video_frames``; cropped around the ``landmarks_path`` landmarks, the whole frame for a
  clip without them), in the clip's split; its test clips are those frames, averaged per clip
  and pass;
- a **biological** detector (``ppg_map``, ``motion_map``) trains on the clips' signal maps from
  its packaged recipe (``map_epochs``), with signals and maps cached once for every run under
  ``OUT/video_cache`` (:class:`~.config.MapCaches`); its test clips are their map windows,
  averaged per clip and pass.

The image-only experiments (``robustness``: pixel perturbations and attacks; ``maps``: pixel
saliency against manipulation masks) are left out on a video manifest (:data:`IMAGE_ONLY`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from fakescope.data.images import VIDEO_SUFFIXES
from fakescope.experiments.uncertainty.clips import Clips, frame_clips, map_clips
from fakescope.experiments.uncertainty.config import MapCaches, UncertaintyStudyConfig, train_config
from fakescope.experiments.video.detectors import VIDEO_DETECTORS
from fakescope.experiments.video.frames import frame_manifest
from fakescope.train.signal_data import is_map_detector

__all__ = ["IMAGE_ONLY", "VIDEO_DETECTORS", "DetectorInputs", "VideoInputs", "is_video_manifest"]

#: Experiments that perturb or explain pixels of one image; not run on clips.
IMAGE_ONLY = ("robustness", "maps")


def is_video_manifest(df: pd.DataFrame) -> bool:
    """True when every row's ``path`` ends in a video suffix (``.mp4``, ``.avi``, ...)."""
    suffixes = df["path"].astype(str).str.lower().str.rsplit(".", n=1).str[-1]
    return bool(len(df)) and suffixes.map(lambda s: f".{s}" in VIDEO_SUFFIXES).all()


@dataclass
class DetectorInputs:
    """One detector's training ``rows`` (face frames or clips) and its ``test`` / ``val``
    clips (``val`` None when no experiment needs it)."""

    rows: pd.DataFrame
    test: Clips
    val: Clips | None


class VideoInputs:
    """The inputs of every detector on the video manifest ``clips`` of the study folder ``out``;
    the face frames and each map kind's test/validation clips are made once and shared."""

    def __init__(self, clips: pd.DataFrame, out: Path, cfg: UncertaintyStudyConfig):
        self.clips, self.out, self.cfg = clips, out, cfg
        self.caches = MapCaches(out / "video_cache")
        self._frames: pd.DataFrame | None = None
        self._made: dict[str, DetectorInputs] = {}

    @property
    def frames(self) -> pd.DataFrame:
        """The frame manifest of the clips (written on first use)."""
        if self._frames is None:
            self._frames = frame_manifest(self.clips, self.out / "video_frames",
                                          k=self.cfg.frames_per_clip)
        return self._frames

    def map_config(self, detector: str):
        """The training config that decides ``detector``'s maps (window, stride, caches)."""
        return train_config(self.cfg, detector, self.out / "runs" / detector / "binary",
                            caches=self.caches)

    def of(self, detector: str, *, need_val: bool) -> DetectorInputs:
        """``detector``'s inputs (module doc)."""
        key = detector if is_map_detector(detector) else "blind"
        if key not in self._made:
            if is_map_detector(detector):
                tc = self.map_config(detector)
                work = Path(tc.out_dir)
                make = lambda split: map_clips(tc, self.clips, split, work)  # noqa: E731
                rows = self.clips
            else:
                size = self.cfg.image_size
                make = lambda split: frame_clips(self.frames, self.clips, split, size)  # noqa: E731
                rows = self.frames
            self._made[key] = DetectorInputs(rows, make("test"),
                                             make("val") if need_val else None)
        return self._made[key]
