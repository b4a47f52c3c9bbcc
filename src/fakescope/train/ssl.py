"""SimCLR pre-training on real faces only (Chen et al., 2020), small and seeded.

Two random views of each real face go through a timm backbone and an MLP projector; the
NT-Xent loss pulls the two views of a face together and pushes the other faces away. The
checkpoint (``model.safetensors`` + ``meta.json``) loads with
``create_feature_extractor("simclr", checkpoint_path=DIR)``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from fakescope.data.images import load_image
from fakescope.data.manifest import resolve_path
from fakescope.errors import ConfigError, DataError
from fakescope.models.device import resolve_device
from fakescope.models.feature_extractors import images_to_tensor
from fakescope.models.ssl import META_FILE, WEIGHTS_FILE, build_ssl_backbone

MEAN = (0.5, 0.5, 0.5)
STD = (0.5, 0.5, 0.5)


@dataclass
class SimCLRConfig:
    """Options of :func:`pretrain_simclr`."""

    arch: str = "resnet18"
    image_size: int = 96
    epochs: int = 10
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 1e-6
    temperature: float = 0.5
    proj_dim: int = 128
    hidden_dim: int = 512
    max_images: int | None = None
    seed: int = 0
    device: str | None = None


def nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float = 0.5) -> torch.Tensor:
    """NT-Xent loss of two views.

    ``z1, z2: (N, K)`` projections of views 1 and 2 of the same N images. With
    ``z = normalize([z1; z2])`` (2N rows) and ``s_ij = z_i . z_j / t``, the loss is
    ``mean_i -log( exp(s_{i,pos(i)}) / sum_{j != i} exp(s_ij) )`` where ``pos(i)`` is the other
    view of image i. Returns a scalar.
    """
    n = z1.shape[0]
    z = F.normalize(torch.cat([z1, z2], 0), dim=1)
    sim = z @ z.t() / temperature
    sim = sim.masked_fill(torch.eye(2 * n, dtype=torch.bool, device=z.device), float("-inf"))
    pos = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(z.device)
    return F.cross_entropy(sim, pos)


def simclr_augment(image_size: int):
    """SimCLR views on a uint8 (3, H, W) tensor -> float (3, S, S) in [0, 1] (torchvision v2)."""
    from torchvision.transforms import v2

    k = max(3, (image_size // 10) | 1)  # odd blur kernel about a tenth of the image
    return v2.Compose([
        v2.RandomResizedCrop(image_size, scale=(0.3, 1.0), antialias=True),
        v2.RandomHorizontalFlip(),
        v2.RandomApply([v2.ColorJitter(0.4, 0.4, 0.4, 0.1)], p=0.8),
        v2.RandomGrayscale(p=0.2),
        v2.RandomApply([v2.GaussianBlur(k, sigma=(0.1, 2.0))], p=0.5),
        v2.ToDtype(torch.float32, scale=True),
    ])


class SimCLRModel(nn.Module):
    """Backbone + projector; ``forward(x in [0,1]) -> (N, proj_dim)``."""

    def __init__(self, arch: str, hidden_dim: int, proj_dim: int):
        super().__init__()
        self.backbone, self.feature_dim = build_ssl_backbone(arch)
        self.projector = nn.Sequential(nn.Linear(self.feature_dim, hidden_dim), nn.ReLU(),
                                       nn.Linear(hidden_dim, proj_dim))
        self.register_buffer("mean", torch.tensor(MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(STD).view(1, 3, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.projector(self.backbone((x - self.mean) / self.std))


def load_real_faces(manifest: pd.DataFrame, *, size: int, max_images: int | None = None,
                    seed: int = 0) -> tuple[torch.Tensor, list[dict[str, str]]]:
    """Real (label 0) faces of the manifest's train split (all rows if it has none), resized to
    ``size`` -> (uint8 (N, 3, size, size), skipped [{sample_id, path, error}])."""
    real = manifest[manifest["label"] == 0]
    if (real["split"] == "train").any():
        real = real[real["split"] == "train"]
    if max_images is not None and len(real) > max_images:
        real = real.sample(n=max_images, random_state=seed).sort_index()
    imgs, skipped = [], []
    for sid, p in zip(real["sample_id"], real["path"], strict=True):
        try:
            img = load_image(resolve_path(manifest, p))
        except DataError as exc:
            skipped.append({"sample_id": sid, "path": p, "error": exc.problem})
            continue
        imgs.append((images_to_tensor([img], size)[0] * 255).round().to(torch.uint8))
    if len(imgs) < 2:
        raise DataError(f"SimCLR needs at least 2 readable real faces, found {len(imgs)}",
                        path=manifest.attrs.get("origin"))
    return torch.stack(imgs), skipped


def pretrain_simclr(manifest: pd.DataFrame, out_dir: str | Path,
                    cfg: SimCLRConfig | None = None) -> dict[str, Any]:
    """Train SimCLR on the manifest's real faces and write the checkpoint to ``out_dir``.

    Returns the meta dict (also written as ``meta.json``); unreadable images are skipped,
    counted in meta and listed in ``skipped.csv``.
    """
    cfg = cfg or SimCLRConfig()
    if cfg.epochs < 1 or cfg.batch_size < 2 or cfg.image_size < 16:
        raise ConfigError("SimCLR needs epochs >= 1, batch_size >= 2, image_size >= 16")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    device = resolve_device(cfg.device)
    data, skipped = load_real_faces(manifest, size=int(cfg.image_size * 1.15),
                                    max_images=cfg.max_images, seed=cfg.seed)
    if skipped:
        pd.DataFrame(skipped).to_csv(out / "skipped.csv", index=False)
    n = len(data)
    bs = min(cfg.batch_size, n)
    aug = simclr_augment(cfg.image_size)
    losses = []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        model = SimCLRModel(cfg.arch, cfg.hidden_dim, cfg.proj_dim).to(device)
        opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        gen = torch.Generator().manual_seed(cfg.seed)
        model.train()
        for _ in range(cfg.epochs):
            order = torch.randperm(n, generator=gen)
            total, count = 0.0, 0
            for i in range(0, n - bs + 1, bs):  # drop the ragged last batch
                batch = data[order[i:i + bs]]
                v1 = torch.stack([aug(im) for im in batch]).to(device)
                v2 = torch.stack([aug(im) for im in batch]).to(device)
                loss = nt_xent(model(v1), model(v2), cfg.temperature)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                total += float(loss.detach()) * len(batch)
                count += len(batch)
            losses.append(total / max(count, 1))
    _save(model, out, cfg, n_images=n, n_skipped=len(skipped), losses=losses,
          manifest=manifest.attrs.get("origin", ""))
    return json.loads((out / META_FILE).read_text())


def _save(model: SimCLRModel, out: Path, cfg: SimCLRConfig, **extra: Any) -> None:
    from safetensors.torch import save_file

    state = {f"backbone.{k}": v.detach().cpu().contiguous()
             for k, v in model.backbone.state_dict().items()}
    state.update({f"projector.{k}": v.detach().cpu().contiguous()
                  for k, v in model.projector.state_dict().items()})
    save_file(state, str(out / WEIGHTS_FILE))
    meta = {"method": "simclr", **{k: v for k, v in asdict(cfg).items() if k != "device"},
            "mean": list(MEAN), "std": list(STD), "feature_dim": model.feature_dim,
            **{k: (np.round(v, 6).tolist() if k == "losses" else v) for k, v in extra.items()}}
    (out / META_FILE).write_text(json.dumps(meta, indent=2))
