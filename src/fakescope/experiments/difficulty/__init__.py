"""SynthFaces difficulty (``fakescope study difficulty`` and ``difficulty-seeds``).

``recipe.py`` is the study, top to bottom; ``stats.py`` the per-generator AUCs and paired
intervals; ``report.py`` the table and report section; ``seeds.py`` the summary over seed
replicates.
"""

from fakescope.experiments.difficulty.recipe import run_difficulty, training_settings
from fakescope.experiments.difficulty.report import format_table
from fakescope.experiments.difficulty.stats import TARGET, drop_ci, generator_auc

__all__ = ["TARGET", "drop_ci", "format_table", "generator_auc", "run_difficulty",
           "training_settings"]
