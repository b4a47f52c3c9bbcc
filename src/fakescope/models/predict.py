"""The one prediction path: class probabilities of a detector, deterministic or stochastic.

Every place that turns images into P(fake) — ``fakescope detect``, ``evaluate`` and the run step,
video scoring, the studies, the robustness sweep and the uncertainty code — calls
:func:`predict` (or its shorthand :func:`predict_samples`)::

    pred = predict(model, images, method="none")          # pred.probs: (1, N, C), pred.logits: (N, C)
    pred = predict(model, loader, method="mc_head", samples=16)   # pred.probs: (T, N, C)
    pred.p_fake                                           # (N,) = 1 - mean_t probs[t, :, 0]

``method``:

- ``"none"``: one deterministic pass (``T = 1``).
- ``"mc"``: MC dropout over the whole network: the model in ``eval()`` (BatchNorm uses running
  statistics) with only its dropout in train mode — Dropout modules, timm's DropPath
  (stochastic depth) and modules that call functional dropout with a ``drop_rate`` (their own
  flag only, not their children's) — ``T`` full forward passes. A detector needs dropout in
  its backbone for this to differ from ``"mc_head"`` (``model.backbone_dropout``,
  :mod:`fakescope.models.stage_dropout`); without, it samples the head dropout only, the same
  distribution as ``"mc_head"`` at ``T`` times the cost, and a :class:`SameAsHeadWarning`
  says so.
- ``"mc_head"``: MC dropout in the heads only: ``model.features`` once, then the features
  repeated ``T`` times in one batch through ``model.forward_heads`` with ``head_dropout``
  active (vectorised; cost ~ one backbone pass).
- ``"bnn"``: a Bayesian detector (:mod:`fakescope.models.bayesian`): ``T`` weight samples. When
  only the heads are Bayesian the backbone runs once, as for ``"mc_head"``.
- ``"ensemble"``: a deep ensemble: ``model_or_models`` is a list of detectors or checkpoint
  folders; ``T`` = number of members (``samples`` is ignored).
- ``"tta"``: test-time augmentation: pass 0 is the identity, passes 1.. apply a seeded random
  horizontal flip, shift (up to ``max_shift`` of the size) and scale (``1 +- max_scale``) to the
  whole batch (border padding).

``images``: a float tensor/array ``(N, 3, H, W)`` in [0, 1] pixel units, or an iterable of such
batches (or of dicts with ``"image"`` and optionally ``"index"`` entries, as ``ManifestDataset``
loaders yield; ``None`` batches are skipped). ``pred.probs`` is a **torch float32 tensor on the
CPU** of shape ``(T, N, C)``: softmax probabilities of the ``head`` (default ``"detect"``; class
0 = real); ``pred.logits`` the raw logits ``(N, C)`` of a deterministic pass (``method="none"``),
``pred.index`` the ``"index"`` entries of dict batches.

Seeds: every stochastic method runs under ``torch.random.fork_rng`` seeded with ``seed``, so the
same seed gives the same samples and the caller's global RNG is untouched.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from fakescope.errors import ConfigError, DataError, ModelError
from fakescope.models.detector import p_fake

METHODS = ("none", "mc", "mc_head", "bnn", "ensemble", "tta")
DROPOUT_TYPES = (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout)


def _device_of(model: nn.Module, device) -> torch.device:
    if device is not None:
        return torch.device(device)
    p = next(model.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


def iter_batches(images, batch_size: int) -> Iterator[tuple[torch.Tensor, torch.Tensor | None]]:
    """Yield ``(x, index)`` pairs: float batches ``x: (B, 3, H, W)`` from a tensor/array or an
    iterable of batches; ``index: (B,)`` is the batch's ``"index"`` entry when batches are dicts
    (as ``ManifestDataset`` loaders yield), else None. ``None`` batches are skipped."""
    if isinstance(images, (torch.Tensor, np.ndarray)):
        x = torch.as_tensor(images)
        if x.ndim == 3:
            x = x[None]
        if x.ndim != 4 or x.shape[1] != 3:
            raise DataError(f"images must be (N, 3, H, W), got shape {tuple(x.shape)}")
        for i in range(0, x.shape[0], batch_size):
            yield x[i:i + batch_size].float(), None
        return
    for batch in images:
        if batch is None:  # collate_skip: every item of the batch was unreadable
            continue
        index = None
        if isinstance(batch, dict):
            batch, index = batch["image"], batch.get("index")
        start = 0
        for x, _ in iter_batches(batch, batch_size):
            part = None if index is None else torch.as_tensor(index)[start:start + len(x)]
            start += len(x)
            yield x, part


class SameAsHeadWarning(UserWarning):
    """``method="mc"`` on a model whose only dropout is the head's: the numbers are mc_head's."""


def _drop_prob(m: nn.Module) -> float:
    """The drop probability of a dropout-like module (Dropout ``p``, DropPath ``drop_prob``),
    or of a module that calls functional dropout (``drop_rate``), else 0."""
    if isinstance(m, DROPOUT_TYPES):
        return float(m.p)
    for attr in ("drop_prob", "drop_rate"):
        v = getattr(m, attr, None)
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return float(v)
    return 0.0


def dropout_modules(model: nn.Module) -> list[nn.Module]:
    """Modules of ``model`` that drop with probability > 0: Dropout, DropPath, and modules
    using functional dropout with a ``drop_rate`` (see ``"mc"`` in the module doc)."""
    return [m for m in model.modules() if _drop_prob(m) > 0]


@contextmanager
def mc_mode(model: nn.Module, modules: list[nn.Module]) -> Iterator[nn.Module]:
    """``model.eval()`` with only ``modules`` in train mode; restores every mode afterwards."""
    modes = {m: m.training for m in model.modules()}
    model.eval()
    for m in modules:
        if isinstance(m, DROPOUT_TYPES) or not any(True for _ in m.children()):
            m.train()
        else:  # a block calling F.dropout(training=self.training): its flag, not its BatchNorms
            m.training = True
    try:
        yield model
    finally:
        for m, t in modes.items():
            m.train(t)


def _logits(out, head: str) -> torch.Tensor:
    if isinstance(out, dict):
        if head not in out:
            raise ModelError(f"the model has no head {head!r}", hint=f"heads: {', '.join(out)}")
        return out[head]
    return out


def _head_logits(model: nn.Module, feats: torch.Tensor, head: str) -> torch.Tensor:
    return _logits(model.forward_heads(feats), head)


def _repeat_heads(model: nn.Module, x: torch.Tensor, t: int, head: str) -> torch.Tensor:
    """One backbone pass, then ``T`` stochastic head passes in one batch -> probs ``(T, B, C)``."""
    feats = model.features(x)
    rep = feats.repeat(t, 1)  # (T*B, D): row t*B + i is sample i, pass t
    logits = _head_logits(model, rep, head)
    return logits.softmax(-1).reshape(t, x.shape[0], -1)


def _full_passes(model: nn.Module, x: torch.Tensor, t: int, head: str) -> torch.Tensor:
    return torch.stack([_logits(model(x), head).softmax(-1) for _ in range(t)])


def tta_params(samples: int, seed: int, *, max_shift: float = 0.05,
               max_scale: float = 0.1) -> list[tuple[bool, float, float, float]]:
    """``(flip, dx, dy, scale)`` of each TTA pass; pass 0 is the identity."""
    rng = np.random.default_rng(seed)
    out = [(False, 0.0, 0.0, 1.0)]
    for _ in range(samples - 1):
        out.append((bool(rng.random() < 0.5), float(rng.uniform(-max_shift, max_shift)) * 2,
                    float(rng.uniform(-max_shift, max_shift)) * 2,
                    float(rng.uniform(1 - max_scale, 1 + max_scale))))
    return out


def augment(x: torch.Tensor, flip: bool, dx: float, dy: float, scale: float) -> torch.Tensor:
    """Flip / shift (in normalised [-1, 1] units) / zoom a batch ``(B, 3, H, W)``."""
    if flip:
        x = x.flip(-1)
    if dx == 0 and dy == 0 and scale == 1:
        return x
    theta = torch.tensor([[1 / scale, 0, dx], [0, 1 / scale, dy]], dtype=x.dtype, device=x.device)
    grid = F.affine_grid(theta.expand(x.shape[0], 2, 3), list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, padding_mode="border", align_corners=False)


def load_members(models) -> list[nn.Module]:
    """Ensemble members: detectors or checkpoint paths (loaded with ``load_detector``)."""
    if isinstance(models, (nn.Module, str, Path)):
        models = [models]
    out = []
    for m in models:
        if isinstance(m, (str, Path)):
            from fakescope.models.checkpoint import load_detector

            m = load_detector(m)[0]
        out.append(m)
    if not out:
        raise ConfigError("an ensemble needs at least one model")
    return out


@dataclass
class Prediction:
    """What :func:`predict` returns.

    ``probs``: ``(T, N, C)`` float32 CPU class probabilities of ``T`` passes; ``logits``: raw
    ``(N, C)`` logits of the deterministic pass (``method="none"``, else None); ``index``:
    ``(N,)`` int64 dataset indices when the input batches carried them, else None.
    """

    probs: torch.Tensor
    logits: torch.Tensor | None = None
    index: torch.Tensor | None = None

    @property
    def p_fake(self) -> torch.Tensor:
        """``(N,)`` P(fake) = ``1 - mean_t probs[t, :, 0]`` (class 0 is real)."""
        return p_fake(self.probs.mean(0))


def predict(model_or_models, images, *, method: str = "none", samples: int = 16, seed: int = 0,
            batch_size: int = 64, device=None, head: str = "detect", max_shift: float = 0.05,
            max_scale: float = 0.1, autocast: torch.dtype | None = None,
            channels_last: bool = False) -> Prediction:
    """Class probabilities of ``images`` under ``method`` (see the module doc).

    ``autocast``: run the forward passes under ``torch.autocast`` with this dtype (the engine's
    mixed precision); ``channels_last``: feed NHWC batches (the engine's memory layout).
    """
    if method not in METHODS:
        raise ConfigError(f"unknown uncertainty method {method!r}",
                          hint=f"use one of {', '.join(METHODS)}")
    if samples < 1:
        raise ConfigError(f"samples must be >= 1, got {samples}")
    members = load_members(model_or_models)
    if method != "ensemble" and len(members) > 1:
        raise ConfigError(f"method {method!r} takes one model, got {len(members)}",
                          hint="use method='ensemble' for several checkpoints")
    dev = _device_of(members[0], device)
    cast = (torch.autocast(device_type=dev.type, dtype=autocast) if autocast is not None
            else nullcontext())
    if not isinstance(images, (torch.Tensor, np.ndarray)):
        # A DataLoader draws its base seed from the caller's global RNG when iteration starts;
        # start it out here, so that draw is taken (as a training's validation pass always took
        # it) and not undone by fork_rng: otherwise every training after epoch 1 would change.
        images = iter(images)
    probs, logits, index = [], [], []
    with torch.random.fork_rng(devices=[dev] if dev.type == "cuda" else []), torch.no_grad():
        torch.manual_seed(seed)
        for x, idx in iter_batches(images, batch_size):
            x = x.to(dev, non_blocking=dev.type == "cuda")
            if channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            with cast:
                out = _predict_batch(members, x, method, samples, seed, head, max_shift,
                                     max_scale)
            if method == "none":
                logits.append(out.float().cpu())
                out = out.float().softmax(-1)[None]
            probs.append(out.float().cpu())
            if idx is not None:
                index.append(idx.cpu().long())
    if not probs:
        raise DataError("no images to predict")
    return Prediction(torch.cat(probs, dim=1), torch.cat(logits) if logits else None,
                      torch.cat(index) if len(index) == len(probs) else None)


def predict_samples(model_or_models, images, *, method: str = "mc", samples: int = 16,
                    seed: int = 0, batch_size: int = 64, device=None, head: str = "detect",
                    max_shift: float = 0.05, max_scale: float = 0.1) -> torch.Tensor:
    """Class-probability samples ``(T, N, C)`` (torch float32, CPU): ``predict(...).probs``."""
    return predict(model_or_models, images, method=method, samples=samples, seed=seed,
                   batch_size=batch_size, device=device, head=head, max_shift=max_shift,
                   max_scale=max_scale).probs


def _predict_batch(members, x, method, t, seed, head, max_shift, max_scale) -> torch.Tensor:
    """Probabilities ``(T, B, C)`` of one batch; raw logits ``(B, C)`` for ``method="none"``."""
    model = members[0]
    if method == "none":
        with mc_mode(model, []):
            return _logits(model(x), head)
    if method == "ensemble":
        outs = []
        for m in members:
            m.to(x.device)
            with mc_mode(m, []):
                outs.append(_logits(m(x), head).softmax(-1))
        return torch.stack(outs)
    if method == "tta":
        with mc_mode(model, []):
            return torch.stack([_logits(model(augment(x, *p)), head).softmax(-1)
                                for p in tta_params(t, seed, max_shift=max_shift,
                                                    max_scale=max_scale)])
    if method == "bnn":
        from fakescope.models.bayesian import bayes_sampling, heads_only_bayesian, is_bayesian

        if not is_bayesian(model):
            raise ModelError("method 'bnn' needs a Bayesian detector",
                             hint="train one with bayesianize(...) / --bayesian")
        with mc_mode(model, []), bayes_sampling(model):
            if heads_only_bayesian(model) and hasattr(model, "forward_heads"):
                return _repeat_heads(model, x, t, head)
            return _full_passes(model, x, t, head)
    if method == "mc_head":
        drop = getattr(model, "head_dropout", None)
        if drop is None or not hasattr(model, "forward_heads"):
            raise ModelError("method 'mc_head' needs a Detector (features + forward_heads)")
        if drop.p <= 0:
            raise ModelError("the detector's head dropout is 0, so MC dropout gives one answer",
                             hint="train it with dropout > 0 (e.g. --dropout 0.2)")
        with mc_mode(model, [drop]):
            return _repeat_heads(model, x, t, head)
    drops = dropout_modules(model)
    if not drops:
        raise ModelError("the model has no dropout with p > 0, so MC dropout gives one answer",
                         hint="train it with dropout > 0 (e.g. --dropout 0.2)")
    if [id(d) for d in drops] == [id(getattr(model, "head_dropout", None))]:
        warnings.warn("method 'mc': the model's only dropout is its head dropout, so it samples "
                      "what 'mc_head' samples (same distribution, T times the cost); train with "
                      "model.backbone_dropout > 0 for full-network MC dropout",
                      SameAsHeadWarning, stacklevel=3)
    with mc_mode(model, drops):
        return _full_passes(model, x, t, head)


class MCDropout(nn.Module):
    """A model that returns ``T`` MC-dropout logits ``(T, N, C)`` from ``forward(x)``.

    Built by :func:`mc_dropout`; ``head_only=True`` reuses one backbone pass.
    """

    def __init__(self, model: nn.Module, num_estimators: int, *, head_only: bool = True,
                 head: str = "detect"):
        super().__init__()
        if num_estimators < 1:
            raise ConfigError(f"num_estimators must be >= 1, got {num_estimators}")
        self.model, self.num_estimators = model, int(num_estimators)
        self.head_only, self.head = head_only, head
        if head_only:
            drops = [model.head_dropout] if getattr(model, "head_dropout", None) is not None else []
        else:
            drops = dropout_modules(model)
        if not drops or all(d.p <= 0 for d in drops):
            raise ModelError("the model has no dropout with p > 0 to sample")
        self._drops = drops

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = self.num_estimators
        with mc_mode(self.model, self._drops):
            if self.head_only:
                feats = self.model.features(x)
                logits = _head_logits(self.model, feats.repeat(t, 1), self.head)
                return logits.reshape(t, x.shape[0], -1)
            return torch.stack([_logits(self.model(x), self.head) for _ in range(t)])


def mc_dropout(model: nn.Module, num_estimators: int, *, head_only: bool = True,
               head: str = "detect") -> MCDropout:
    """Wrap ``model`` so ``forward(x)`` returns ``num_estimators`` MC-dropout logits ``(T, N, C)``
    (like torch-uncertainty's ``mc_dropout(model, num_estimators)``)."""
    return MCDropout(model, num_estimators, head_only=head_only, head=head)
