"""One engine for fit / evaluate / predict.

Run folder ``out_dir``::

    config.yaml          the training config as run
    best/                model.safetensors + meta.json, chosen on the *validation* split only
    last/                the latest weights + state.pt (optimiser, schedule, epoch, step, RNG)
    metrics.csv, history.json   one row per epoch (train loss, lr, validation metrics)

End of training: the best checkpoint gets the out-of-distribution statistics of its features
(:mod:`fakescope.uncertainty.ood`: class means and covariance on the training split, threshold
at the 95th percentile of validation distances), and every checkpoint records the preprocessing
of its training images and a summary of its training data (``meta.json``'s
``preprocessing.faces`` and ``training_data``; :mod:`fakescope.data.preprocessing`).

Resume: when ``last/state.pt`` exists (and ``train.resume``), training continues from the saved
epoch and step; the sampler skips the batches already done, and RNG states are restored, so a
resumed run follows the same trajectory as an uninterrupted one on CPU.
DDP: launched by ``torchrun``; each rank takes ``batch_size / world_size`` samples a step, so the
global batch matches a single-process run; rank 0 validates and writes checkpoints.
"""

from __future__ import annotations

import json
import logging
import math
import random
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from fakescope.config import TrainConfig, save_config
from fakescope.data.dataset import ManifestDataset, collate_skip
from fakescope.errors import ConfigError, DataError, ModelError
from fakescope.metrics.detection import detection_metrics
from fakescope.models.checkpoint import load_detector, load_weights, save_detector
from fakescope.models.detector import Detector
from fakescope.models.device import resolve_device
from fakescope.models.predict import Prediction, predict
from fakescope.scores import scores_table
from fakescope.train.distributed import (
    DistInfo,
    barrier,
    broadcast_object,
    init_distributed,
)
from fakescope.train.losses import create_loss
from fakescope.train.paired_sampler import create_train_sampler
from fakescope.train.resume import resume_conflicts, rng_state, set_rng_state
from fakescope.train.sam import SAM, frozen_bn_stats
from fakescope.uncertainty.ood import fit_detector_ood, save_ood

log = logging.getLogger(__name__)

LOWER_IS_BETTER = {"loss", "eer", "ece"}


class TrainingInterrupted(RuntimeError):
    """Raised by the ``stop_after_steps`` test hook, as if the process had been killed."""


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


@dataclass
class FitResult:
    best_epoch: int
    best_metric: float
    metric: str
    best_checkpoint: Path
    history: list[dict[str, Any]] = field(default_factory=list)


def amp_dtype(device: torch.device) -> torch.dtype | None:
    """The autocast dtype for ``train.amp`` on ``device``, or None where mixed precision would
    not pay: bf16 on CUDA GPUs that support it (else fp16), bf16 on CPUs with native bf16
    (AVX512-BF16 or AMX, through oneDNN), None on other CPUs, where emulated bf16 is slower
    than fp32 (see ``benchmarks/train_throughput.py`` for the measured speed-up)."""
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device.type == "cpu" and cpu_has_native_bf16():
        return torch.bfloat16
    return None


def cpu_has_native_bf16() -> bool:
    """True when this CPU computes bf16 in hardware (AVX512-BF16 or AMX tiles)."""
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(bool(getattr(torch.cpu, c, lambda: False)()) for c in checks)


def predict_dataset(model: Detector, ds: ManifestDataset, cfg: TrainConfig, *,
                    device: torch.device, method: str = "none", samples: int = 16,
                    seed: int = 0, batch_size: int | None = None) -> Prediction:
    """:func:`~fakescope.models.predict.predict` over every readable item of ``ds`` as a
    training config runs it: ``cfg.train.eval_batch_size`` (unless ``batch_size``), its data
    workers, mixed precision (``train.amp``) and memory layout (``train.channels_last``); the
    model is put in eval mode on ``device``. ``Prediction.index`` holds the items' indices."""
    bs = batch_size or cfg.train.eval_batch_size
    loader = DataLoader(ds, batch_size=bs, shuffle=False, collate_fn=collate_skip,
                        num_workers=cfg.data.num_workers)
    model.to(device).eval()
    return predict(model, loader, method=method, samples=samples, seed=seed, batch_size=bs,
                   device=device, autocast=amp_dtype(device) if cfg.train.amp else None,
                   channels_last=cfg.train.channels_last)


class Engine:
    """Train, evaluate and predict with one Detector.

    Args:
        model: the Detector (moved to the configured device).
        cfg: the training config.
        out_dir: the run folder (defaults to ``cfg.out_dir``).
        loss: a loss module (defaults to ``create_loss(cfg.loss.name, **cfg.loss.options)``).
        stop_after_steps: test hook; raise :class:`TrainingInterrupted` after this many steps.
    """

    def __init__(self, model: Detector, cfg: TrainConfig, out_dir: str | Path | None = None, *,
                 loss: nn.Module | None = None, stop_after_steps: int | None = None):
        self.cfg = cfg
        self.out = Path(out_dir or cfg.out_dir)
        local_rank = int(__import__("os").environ.get("LOCAL_RANK", "0"))
        self.device = resolve_device(cfg.train.device, local_rank)
        self.dist: DistInfo = init_distributed(self.device)
        self.model = model.to(self.device)
        self.loss = loss if loss is not None else create_loss(cfg.loss.name, **cfg.loss.options)
        self.loss.to(self.device)
        self.stop_after_steps = stop_after_steps
        self.amp_dtype = amp_dtype(self.device) if cfg.train.amp else None
        self.use_amp = self.amp_dtype is not None
        self.channels_last = bool(cfg.train.channels_last)
        if self.channels_last:
            self.model.to(memory_format=torch.channels_last)
        metric = cfg.train.select_metric
        self.higher_better = metric not in LOWER_IS_BETTER

    # ---------------------------------------------------------------- optimisation
    def _optimizer(self) -> torch.optim.Optimizer:
        o = self.cfg.optim
        params = [p for p in self.model.parameters() if p.requires_grad]
        bases = {"adamw": torch.optim.AdamW, "adam": torch.optim.Adam, "sgd": torch.optim.SGD}
        if o.name not in bases:
            raise ConfigError(f"unknown optimiser {o.name!r}", hint=f"use one of {', '.join(bases)}")
        kw: dict[str, Any] = {"lr": o.lr, "weight_decay": o.weight_decay}
        if o.name == "sgd":
            kw["momentum"] = o.momentum
        if o.sam:
            return SAM(params, bases[o.name], rho=o.sam_rho, adaptive=o.sam_adaptive, **kw)
        return bases[o.name](params, **kw)

    def _scheduler(self, opt: torch.optim.Optimizer, steps_per_epoch: int):
        s = self.cfg.schedule
        total = max(1, self.cfg.train.epochs * steps_per_epoch)
        warm = s.warmup_epochs * steps_per_epoch
        if s.name not in ("cosine", "step", "none"):
            raise ConfigError(f"unknown schedule {s.name!r}", hint="use cosine, step or none")

        def factor(step: int) -> float:
            if step < warm:
                return (step + 1) / warm
            if s.name == "cosine":
                t = (step - warm) / max(1, total - warm)
                return 0.5 * (1 + math.cos(math.pi * min(1.0, t)))
            if s.name == "step":
                return s.gamma ** ((step // steps_per_epoch) // max(1, s.step_size))
            return 1.0

        base = opt.base_optimizer if isinstance(opt, SAM) else opt
        return torch.optim.lr_scheduler.LambdaLR(base, factor)

    def _autocast(self):
        if not self.use_amp:
            return nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.amp_dtype)

    def _images(self, x: torch.Tensor) -> torch.Tensor:
        """A ``(B, 3, H, W)`` image batch on the device, in the model's memory layout."""
        x = x.to(self.device, non_blocking=self.device.type == "cuda")
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x

    def _to_device(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        nb = self.device.type == "cuda"
        return {k: self._images(v) if k == "image" else v.to(self.device, non_blocking=nb)
                for k, v in batch.items()}

    def _train_step(self, net: nn.Module, batch, opt, scaler) -> float:
        with self._autocast():
            loss = self.loss(net(batch["image"]), batch)
        if not torch.isfinite(loss):
            raise FloatingPointError(f"training loss is {loss.item()} (lower optim.lr?)")
        if isinstance(opt, SAM):
            loss.backward()
            opt.first_step(zero_grad=True)
            with frozen_bn_stats(self.model), self._autocast():
                self.loss(net(batch["image"]), batch).backward()
            opt.second_step(zero_grad=True)
            return float(loss.detach())
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        if self.cfg.optim.grad_clip:
            scaler.unscale_(opt)
            nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.optim.grad_clip)
        scaler.step(opt)
        scaler.update()
        return float(loss.detach())

    # ---------------------------------------------------------------- checkpoints
    def _meta(self, epoch: int, metrics: dict[str, Any]) -> dict[str, Any]:
        return {"training": self.cfg.to_dict(), "epoch": epoch, "metrics": metrics,
                "selected_on": f"{self.cfg.data.val_split} split, {self.cfg.train.select_metric}",
                **getattr(self, "_data_meta", {})}

    def _describe_data(self, train_ds, val_ds) -> dict[str, Any]:
        """The checkpoint's ``preprocessing.faces`` record and ``training_data`` summary."""
        from fakescope.data.preprocessing import data_summary, training_record

        train_df, val_df = getattr(train_ds, "df", None), getattr(val_ds, "df", None)
        if train_df is None or val_df is None or "label" not in train_df.columns:
            return {}
        if "map_path" in train_df.columns:  # a map detector: signal maps of tracked faces
            faces = {"crop": "signal_maps", "source": "face detected and tracked through each "
                     "clip, signals mapped per window (fakescope.train.signal_data)"}
        else:
            faces = training_record(train_df, seed=self.cfg.train.seed)
        return {"preprocessing": {"faces": faces},
                "training_data": data_summary(train_df, val_df)}

    def _fit_ood(self, train_ds, val_ds) -> None:
        """Fit the OOD statistics of ``out/best``'s weights and store them there (main rank);
        the model keeps the weights it had. A split without a readable item is logged."""
        best = self.out / "best"
        if not (self.dist.is_main and (best / "model.safetensors").is_file()):
            return
        kept = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        try:
            load_weights(self.model, best)
            with torch.random.fork_rng(devices=[self.device] if self.device.type == "cuda"
                                       else []):
                stats = fit_detector_ood(self.model, train_ds, val_ds,
                                         batch_size=self.cfg.train.eval_batch_size,
                                         device=self.device,
                                         num_workers=self.cfg.data.num_workers,
                                         seed=self.cfg.train.seed)
            save_ood(best, stats, fitted_on=f"{self.cfg.data.train_split} split (means, "
                     f"covariance) and {self.cfg.data.val_split} split (threshold), at the end "
                     "of training")
        except DataError as exc:
            log.warning("out-of-distribution statistics not fitted: %s", exc)
        finally:
            self.model.load_state_dict(kept)

    def _save_last(self, opt, sched, *, epoch: int, step: int, best: float | None,
                   best_epoch: int, history: list, epoch_losses: list | None = None) -> None:
        if not self.dist.is_main:
            return
        last = self.out / "last"
        save_detector(self.model, last, self._meta(epoch, history[-1] if history else {}))
        state = {"optimizer": opt.state_dict(), "scheduler": sched.state_dict(), "epoch": epoch,
                 "step": step, "best": best, "best_epoch": best_epoch,
                 "history": json.dumps(history), "rng": rng_state(),
                 "epoch_losses": list(epoch_losses or [])}
        tmp = last / "state.pt.tmp"
        torch.save(state, tmp)
        tmp.replace(last / "state.pt")

    def _resume(self, opt, sched) -> tuple[int, int, float | None, int, list, list]:
        path = self.out / "last" / "state.pt"
        if not (self.cfg.train.resume and path.is_file()):
            return 0, 0, None, -1, [], []
        conflicts = resume_conflicts(self.out, self.cfg)
        if conflicts:
            raise ConfigError(f"{self.out} holds a training made with other settings "
                              f"({'; '.join(conflicts)}); resuming it would mix the two",
                              hint="use another output folder, delete its last/ to start "
                              "over, or set train.resume=false")
        model, _ = load_detector(self.out / "last", device=self.device)
        self.model.load_state_dict(model.state_dict())
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:
            raise ModelError(f"cannot resume: {type(exc).__name__} reading the training state",
                             path=path, hint="written by another fakescope version or cut short; "
                             "delete the run folder's last/ to start over") from exc
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        set_rng_state(state["rng"])
        if self.dist.is_main:
            log.info("resuming from %s at epoch %d step %d", path, state["epoch"], state["step"])
        return (state["epoch"], state["step"], state["best"], state["best_epoch"],
                json.loads(state["history"]), state.get("epoch_losses", []))

    def _write_history(self, history: list[dict[str, Any]]) -> None:
        if self.dist.is_main:
            pd.DataFrame(history).to_csv(self.out / "metrics.csv", index=False)
            (self.out / "history.json").write_text(json.dumps(history, indent=2))

    # ---------------------------------------------------------------- public API
    def fit(self, train_ds: ManifestDataset, val_ds: ManifestDataset) -> FitResult:
        """Train for ``train.epochs``; keep the best validation checkpoint in ``out/best``."""
        cfg = self.cfg
        if len(train_ds) == 0:
            raise DataError(f"the {cfg.data.train_split!r} split is empty")
        if len(val_ds) == 0:
            raise DataError(f"the {cfg.data.val_split!r} split is empty",
                            hint="checkpoints are chosen on validation, never on test")
        seed_everything(cfg.train.seed)
        self._data_meta = self._describe_data(train_ds, val_ds)
        self.out.mkdir(parents=True, exist_ok=True)
        if self.dist.is_main:
            save_config(cfg, self.out / "config.yaml")
        per_rank = max(1, cfg.train.batch_size // self.dist.world_size)
        sampler = create_train_sampler(cfg.data.sampler, train_ds.df, train_ds.labels,
                                       pair_column=cfg.data.pair_column, seed=cfg.train.seed,
                                       rank=self.dist.rank, world_size=self.dist.world_size,
                                       source=f"the {cfg.data.train_split!r} split")
        # The loader's own generator keeps its per-epoch seed draw off the global RNG, whose
        # state (dropout masks) is what a resumed run restores.
        # A final batch of one sample breaks BatchNorm in training mode: drop only that one.
        drop_last = len(sampler) % per_rank == 1 and per_rank > 1
        loader = DataLoader(train_ds, batch_size=per_rank, sampler=sampler,
                            collate_fn=collate_skip, num_workers=cfg.data.num_workers,
                            pin_memory=self.device.type == "cuda", drop_last=drop_last,
                            generator=torch.Generator().manual_seed(cfg.train.seed))
        steps_per_epoch = len(loader)
        if hasattr(self.loss, "bind"):
            self.loss.bind(model=self.model, n_train=len(train_ds),
                           n_groups=len(getattr(train_ds, "group_names", [])))
        net: nn.Module = self.model
        if self.dist.enabled:
            ids = [self.device.index] if self.device.type == "cuda" else None
            net = DistributedDataParallel(self.model, device_ids=ids)
        opt = self._optimizer()
        sched = self._scheduler(opt, steps_per_epoch)
        scaler = torch.amp.GradScaler(self.device.type, enabled=self.use_amp
                                      and self.amp_dtype == torch.float16)
        start_epoch, start_step, best, best_epoch, history, done_losses = self._resume(opt, sched)
        global_step = start_epoch * steps_per_epoch + start_step
        save_every = cfg.train.save_every_steps
        for epoch in range(start_epoch, cfg.train.epochs):
            train_ds.set_epoch(epoch)
            skip = start_step if epoch == start_epoch else 0
            sampler.set_epoch(epoch, skip=skip * per_rank)
            self.model.train()
            losses: list[float] = list(done_losses) if epoch == start_epoch else []
            bar = tqdm(loader, desc=f"epoch {epoch + 1}/{cfg.train.epochs}", leave=False,
                       # None: tqdm shows the bar on a terminal only, not in log files
                       disable=None if (cfg.train.progress and self.dist.is_main) else True,
                       initial=skip,
                       total=steps_per_epoch)
            for step, batch in enumerate(bar, start=skip):
                if batch is None:
                    continue
                losses.append(self._train_step(net, self._to_device(batch), opt, scaler))
                sched.step()
                global_step += 1
                bar.set_postfix(loss=f"{np.mean(losses[-20:]):.4f}")
                if save_every and (step + 1) % save_every == 0 and step + 1 < steps_per_epoch:
                    self._save_last(opt, sched, epoch=epoch, step=step + 1, best=best,
                                    best_epoch=best_epoch, history=history, epoch_losses=losses)
                if self.stop_after_steps and global_step >= self.stop_after_steps:
                    raise TrainingInterrupted(f"stopped after {global_step} steps (test hook)")
            val = None
            if self.dist.is_main:
                val, _ = self.evaluate(val_ds)
            val = broadcast_object(val, self.dist)
            row = {"epoch": epoch + 1, "train_loss": float(np.mean(losses)) if losses else math.nan,
                   "lr": sched.get_last_lr()[0], **{f"val_{k}": v for k, v in val.items()}}
            history.append(row)
            score = val[cfg.train.select_metric]
            improved = best is None or (math.isfinite(score) and (
                score > best if self.higher_better else score < best))
            if improved:
                best, best_epoch = score, epoch + 1
                if self.dist.is_main:
                    save_detector(self.model, self.out / "best", self._meta(epoch + 1, row))
            self._save_last(opt, sched, epoch=epoch + 1, step=0, best=best,
                            best_epoch=best_epoch, history=history)
            self._write_history(history)
            if self.dist.is_main and cfg.train.progress:
                log.info("epoch %d: %s", epoch + 1, row)
            barrier(self.dist)
        self._fit_ood(train_ds, val_ds)
        barrier(self.dist)
        bad = getattr(train_ds, "bad_items", {})
        if bad and self.dist.is_main:
            pd.DataFrame({"index": list(bad), "error": list(bad.values())}).to_csv(
                self.out / "skipped.csv", index=False)
        return FitResult(best_epoch, float("nan") if best is None else best,
                         cfg.train.select_metric, self.out / "best", history)

    def load_best(self) -> None:
        """Load the weights of ``out/best`` into the engine's model (any Detector, registered
        architecture or not)."""
        load_weights(self.model, self.out / "best")

    def predict_logits(self, ds: ManifestDataset) -> tuple[np.ndarray, np.ndarray]:
        """``(indices (M,), logits (M, C))`` for every readable item of ``ds`` (eval mode)."""
        try:
            pred = predict_dataset(self.model, ds, self.cfg, device=self.device)
        except DataError:  # no readable item
            return np.zeros(0, np.int64), np.zeros((0, self.model.num_classes), np.float32)
        return pred.index.numpy(), pred.logits.numpy()

    def predict(self, ds: ManifestDataset) -> pd.DataFrame:
        """The scores table of ``ds`` (see :mod:`fakescope.scores`)."""
        return scores_table(ds, *self.predict_logits(ds), self.model.class_names)

    def evaluate(self, ds: ManifestDataset) -> tuple[dict[str, float], pd.DataFrame]:
        """Detection metrics (and CE loss) of ``ds`` plus its scores table."""
        scores = self.predict(ds)
        logits = torch.from_numpy(scores[[c for c in scores.columns if c.startswith("logit_")]]
                                  .to_numpy(np.float32))
        targets = torch.from_numpy(ds.targets[scores["row"].to_numpy()])
        metrics = detection_metrics(scores["label"], scores["p_fake"]).to_dict()
        metrics["loss"] = float(F.cross_entropy(logits, targets)) if len(scores) else math.nan
        return metrics, scores
