"""The video study: SynthFaces clips, their signals, heart-rate recovery and the difficulty
controls (:mod:`.recipe`, :mod:`.controls`, :mod:`.report`)."""

from fakescope.experiments.video.recipe import VideoStudyConfig, run_video_study

__all__ = ["VideoStudyConfig", "run_video_study"]
