"""The uncertainty study (Kose et al., ICCV 2025 workshop): detectors x methods x generators.

For each detector (default ResNet-18, Xception, EfficientNet-B0, MobileNetV3), trained through
the run step (:func:`fakescope.train.run.fit_or_reuse`; checkpoint chosen on the validation
split) on a manifest with train/val/test splits:

- ``binary`` (:mod:`.binary`): the real/fake detector scored on the test split by every
  uncertainty method (``mc``, ``mc_head``, ``bnn`` — the trained detector made Bayesian in its
  heads and fine-tuned with NLL + KL/N —, ``ensemble`` — ``ensemble_size`` detectors trained
  with different seeds —, ``tta``): AUC, accuracy, ECE/Brier/NLL of P(fake) and the mean
  uncertainty components, overall and per generator; temperature scaling fitted on validation.
- ``multiclass`` (:mod:`.source`): a detector trained on real + each generator; its predictions
  are the end-to-end source attribution.
- ``source`` (:mod:`.source`): a classifier on the uncertainty features of all detectors
  (concatenated) predicts the source; compared with one on their penultimate features and with
  the end-to-end multi-class detectors (balanced accuracy, confusion matrix).
- ``logo`` (:mod:`.logo`): leave one generator out: train without generator g, test on g
  (unseen) and on the others (seen): AUC and uncertainty of unseen against seen.
- ``robustness`` (:mod:`.robustness`): JPEG / blur / noise / resize and FGSM / PGD against
  strength (``mc_head``).
- ``maps`` (:mod:`.maps`): pixel maps (mean / variance of saliency over MC passes) scored
  against the manipulation masks (``mask_path``), per generator; region occlusion (facial
  regions when ``landmarks_path`` is present, else a grid); overlays for a few images.

Run folder ``OUT``: ``runs/<detector>/<run>/`` (run-step folders, :mod:`.runs`),
``progress.json`` + ``progress_features.npz`` (results of finished detectors, :mod:`.progress`),
``scores/<detector>__<method>.csv`` (scores tables with ``unc_*`` columns), ``tables/`` and
``figures/`` via the report (:mod:`.report`), ``study.json``. The recipe: :mod:`.study`.
Default size and measured time: docs/uncertainty.md.
"""

from fakescope.experiments.uncertainty.config import UncertaintyStudyConfig
from fakescope.experiments.uncertainty.data import subsample
from fakescope.experiments.uncertainty.study import StudyResult, run_uncertainty_study

__all__ = ["StudyResult", "UncertaintyStudyConfig", "run_uncertainty_study", "subsample"]
