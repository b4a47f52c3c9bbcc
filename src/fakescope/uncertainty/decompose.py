"""Split predictive uncertainty into aleatoric and epistemic parts.

For ``T`` stochastic passes with class probabilities ``p_t`` (shape ``(T, N, C)``), per sample
(natural log, so the unit is nats and the maximum is ``log C``):

- ``total``     = H[mean_t p_t]                 predictive entropy
- ``aleatoric`` = mean_t H[p_t]                 expected entropy (noise the model sees in the data)
- ``epistemic`` = total - aleatoric             mutual information I(y; w) (BALD), >= 0
- ``variance``  = Var_t[P_t(fake)]              population variance (ddof 0) of
  ``P(fake) = 1 - p_t[..., 0]`` across passes; in [0, 0.25]
- ``variance_classes`` = mean_c Var_t[p_t[..., c]]   (equal to ``variance`` when C = 2)

with ``H[p] = -sum_c p_c log p_c`` (``0 log 0 = 0``). Tiny negative epistemic values from
rounding are clipped to 0. One pass (T = 1) gives epistemic = variance = 0.
"""

from __future__ import annotations

import numpy as np
import torch

from fakescope.errors import DataError

COMPONENTS = ("total", "aleatoric", "epistemic", "variance")


def entropy(p: np.ndarray, axis: int = -1) -> np.ndarray:
    """Shannon entropy in nats along ``axis`` (``0 log 0 = 0``)."""
    p = np.asarray(p, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0)
    return -terms.sum(axis=axis)


def as_samples(probs) -> np.ndarray:
    """Validate stochastic class probabilities: ``(T, N, C)`` (or ``(N, C)`` = one pass) -> float64."""
    if isinstance(probs, torch.Tensor):
        probs = probs.detach().cpu().numpy()
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim == 2:
        p = p[None]
    if p.ndim != 3 or p.shape[-1] < 2:
        raise DataError(f"probabilities must be (T, N, C>=2), got shape {p.shape}")
    if not np.all(np.isfinite(p)) or p.min() < -1e-6 or p.max() > 1 + 1e-6:
        raise DataError("probabilities must be finite and in [0, 1]")
    return np.clip(p, 0.0, 1.0)


def decompose(probs) -> dict[str, np.ndarray]:
    """Per-sample uncertainty of ``probs: (T, N, C)`` (numpy or torch).

    Returns float64 arrays of shape ``(N,)`` under ``total``, ``aleatoric``, ``epistemic``,
    ``variance``, ``variance_classes`` and ``p_fake`` (= ``1 - mean_t p_t[..., 0]``), plus
    ``mean_probs`` ``(N, C)``. Formulas in the module docstring.
    """
    p = as_samples(probs)
    mean = p.mean(axis=0)
    total = entropy(mean)
    aleatoric = entropy(p).mean(axis=0)
    epistemic = np.maximum(total - aleatoric, 0.0)
    fake = 1.0 - p[..., 0]
    return {
        "p_fake": 1.0 - mean[:, 0],
        "total": total,
        "aleatoric": aleatoric,
        "epistemic": epistemic,
        "variance": fake.var(axis=0),
        "variance_classes": p.var(axis=0).mean(axis=-1),
        "mean_probs": mean,
    }


def uncertainty_columns(probs) -> dict[str, np.ndarray]:
    """The scores-table columns ``unc_total`` ... ``unc_variance`` and ``p_fake`` of ``probs``."""
    d = decompose(probs)
    out = {f"unc_{k}": d[k] for k in COMPONENTS}
    out["p_fake"] = d["p_fake"]
    return out
