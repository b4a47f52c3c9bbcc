"""The fairness-generalisation study on SynthFaces (``fakescope study fairness``).

Design (Ezeakunne et al.'s question, on controlled data):

* **train / val** — domain A (``studio``), *biased*: one skin-tone group and one age group are
  under-represented (``StudyConfig.bias``, default dark skin 10 % and seniors 10 %); real faces
  plus fakes of ``generators``; split by identity.
* **test A** — domain A, balanced groups, new identities (intra-domain).
* **test B** — domain B (``phone``), balanced groups, new identities (cross-domain).
* **methods** — ERM and each mitigation, one switch each (:class:`Switches`):
  ``synthetic`` (SBI fakes that balance group x label counts, :mod:`fakescope.data.balance`),
  ``sam`` (``optim.sam``), ``multitask`` (demographic head on ``skin_tone*age_group``, loss
  ``multitask``), ``reweight`` (loss ``group_reweight``), ``dro`` (loss ``dro``), and
  ``combined`` = synthetic + SAM + multi-task.
* **numbers** — per method and test domain: AUC with its bootstrap CI and every gap metric of
  :func:`fakescope.metrics.fairness.fairness_report` on the intersection ``skin_tone*age_group``
  (and per single attribute in ``gaps_all.csv``), with CIs; a per-group FPR/TPR plot; a report
  section whose text states, from the measured numbers, whether the combination lowers
  cross-domain F_FPR and F_OAE relative to ERM and at what AUC cost.

Files: ``config`` (options, methods, each method's training config), ``data`` (the biased and
balanced manifests), ``recipe`` (the study over the run step), ``report`` (audit, table, verdict,
figures). Run folder ``OUT``: ``data/`` (see :mod:`.data`), ``runs/<method>/`` (a run folder of
:mod:`fakescope.train.run` plus ``test_scores.csv``), ``fairness_study.csv``,
``fairness_study_config.json``, ``figures/``, ``sections/fairness_study.json``, ``report.html``.
"""

from fakescope.experiments.fairness.config import (
    GROUP_COLS,
    GROUP_COLUMN,
    METHODS,
    StudyConfig,
    Switches,
    tiny_config,
    train_config,
)
from fakescope.experiments.fairness.data import balanced_manifest, build_study_data
from fakescope.experiments.fairness.recipe import run_fairness_study
from fakescope.experiments.fairness.report import StudyResult

__all__ = ["GROUP_COLS", "GROUP_COLUMN", "METHODS", "StudyConfig", "StudyResult", "Switches",
           "balanced_manifest", "build_study_data", "run_fairness_study", "tiny_config",
           "train_config"]
