"""The demo (``fakescope demo``): build SynthFaces, train detectors, evaluate, write a report.

``recipe.py`` is the run, top to bottom; ``report.py`` its report sections; ``analyses.py`` the
optional uncertainty and fairness analyses of its scores.
"""

from fakescope.experiments.demo.recipe import ANALYSES, DemoConfig, run_demo, training_settings

__all__ = ["ANALYSES", "DemoConfig", "run_demo", "training_settings"]
