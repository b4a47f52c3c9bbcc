"""The backbone separability study (Nguyen et al., IJCB 2023, with fakescope's own measure).

For every frozen feature extractor: features -> separability (:mod:`fakescope.metrics.separability`)
and a 2-D projection; then fine-tuning on a small labelled subset -> in-domain AUC,
cross-generator AUC (each generator held out in turn) and the train-vs-validation gap; finally
Spearman's rho between separability and fine-tuned AUC across extractors, with a bootstrap CI.

Fine-tuning: torch extractors (timm, EfficientNet-Lite0, SimCLR, random) are trained end to end
through the run step (:func:`fakescope.train.run.fit_or_reuse`, checkpoint chosen on
validation); dlib and hand-crafted extractors are frozen and get a linear head (standardise +
logistic regression) on their features.

Files: ``config`` (options), ``data`` (splits and subsets), ``features`` (extractors, cached
features, the SimCLR checkpoint), ``finetune`` (run step or linear head -> AUCs), ``report``
(rank correlations, report section), ``recipe`` (the study, top to bottom).

Run folder ``OUT``: ``features/<extractor>.npz`` (cache keyed by manifest hash and extractor
options), ``separability.csv``, ``finetune.csv``, ``correlation.csv``, ``skipped.csv``,
``figures/``, ``finetune/<extractor>/in_domain`` and ``.../without_<generator>`` (run folders of
:mod:`fakescope.train.run`), ``simclr/`` (a pre-trained checkpoint), report.
"""

from fakescope.experiments.separability.config import SEPARABILITY_SCORE, StudyConfig
from fakescope.experiments.separability.data import (
    balanced_subset,
    ensure_splits,
    manifest_hash,
    sample_per_group,
)
from fakescope.experiments.separability.recipe import run_separability_study

__all__ = ["SEPARABILITY_SCORE", "StudyConfig", "balanced_subset", "ensure_splits",
           "manifest_hash", "run_separability_study", "sample_per_group"]
