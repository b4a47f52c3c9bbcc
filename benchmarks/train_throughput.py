"""Training throughput: fakescope's Engine vs a bare PyTorch + timm loop, same model and data.

Prints images/s of each and the ratio fakescope / bare in fp32 with the NCHW layout (target
>= 0.9: the engine's own overhead). Both loops see the same in-memory images, batch size,
optimiser and number of steps; both score the same validation batch once per epoch (the
engine needs it to pick its checkpoint). A third row times the engine with its defaults,
``train.amp`` (bf16 autocast where the CPU or GPU has native bf16) and ``train.channels_last``,
and prints its speed-up over fp32.

    python benchmarks/train_throughput.py [--model resnet18 --size 64 --n 1536 --batch 32 --epochs 2]

The engine pays a fixed cost per epoch (validation, best + last checkpoints with optimiser
state: about 0.3 s for ResNet-18), so very short epochs (--n 512: about 4 s each) show it.
"""

from __future__ import annotations

import argparse
import tempfile
import time

import pandas as pd
import torch
import torch.nn.functional as F

from fakescope.config import load_config
from fakescope.models import create_detector
from fakescope.train.engine import Engine, amp_dtype


class InMemory(torch.utils.data.Dataset):
    """Dataset items like ManifestDataset's, from tensors already in memory."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor):
        self.images, self.labels = images, labels
        self.df = pd.DataFrame({"sample_id": [str(i) for i in range(len(labels))],
                                "label": labels.numpy()})
        self.targets = labels.numpy()
        self.group_names: list[str] = []
        self.bad_items: dict = {}

    def __len__(self):
        return len(self.images)

    def set_epoch(self, epoch: int) -> None:
        pass

    def __getitem__(self, i):
        return {"image": self.images[i], "label": self.labels[i], "target": self.labels[i],
                "group": torch.tensor(-1), "index": torch.tensor(i)}


def bare_loop(model, images, labels, val, *, batch: int, epochs: int, lr: float) -> float:
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(images, labels),
                                         batch_size=batch, shuffle=True)
    start = time.perf_counter()
    for _ in range(epochs):
        model.train()
        for x, y in loader:
            loss = F.cross_entropy(model(x)["detect"], y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            model(val)
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="resnet18")
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--n", type=int, default=1536)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    g = torch.Generator().manual_seed(0)
    images = torch.rand(args.n, 3, args.size, args.size, generator=g)
    labels = torch.randint(0, 2, (args.n,), generator=g)
    val = images[: args.batch]
    base = [f"train.epochs={args.epochs}", f"train.batch_size={args.batch}",
            f"train.eval_batch_size={args.batch}", "train.progress=false",
            "schedule.name=none", "train.resume=false"]
    cfgs = {"fakescope": load_config(None, [*base, "train.amp=false",
                                            "train.channels_last=false"]),
            "defaults": load_config(None, base)}
    cfg = cfgs["fakescope"]
    steps = args.epochs * args.n
    best = {"bare": float("inf"), "fakescope": float("inf"), "defaults": float("inf")}
    for _ in range(args.repeats):
        torch.manual_seed(0)
        model = create_detector(args.model)
        best["bare"] = min(best["bare"], bare_loop(model, images, labels, val, batch=args.batch,
                                                   epochs=args.epochs, lr=cfg.optim.lr))
        for name, c in cfgs.items():
            torch.manual_seed(0)
            model = create_detector(args.model)
            with tempfile.TemporaryDirectory() as out:
                engine = Engine(model, c, out)
                start = time.perf_counter()
                engine.fit(InMemory(images, labels), InMemory(val, labels[: args.batch]))
                best[name] = min(best[name], time.perf_counter() - start)
    bare, ours, fast = (steps / best[k] for k in ("bare", "fakescope", "defaults"))
    print(f"model={args.model} size={args.size} n={args.n} batch={args.batch} "
          f"epochs={args.epochs} threads={torch.get_num_threads()} "
          f"defaults: amp dtype {amp_dtype(torch.device('cpu'))}, channels_last")
    print(f"bare PyTorch + timm (fp32)  : {bare:8.1f} images/s")
    print(f"fakescope Engine (fp32)     : {ours:8.1f} images/s")
    print(f"fakescope Engine (defaults) : {fast:8.1f} images/s")
    print(f"ratio fakescope/bare (fp32) : {ours / bare:.3f}  (target >= 0.9)")
    print(f"speed-up defaults/fp32      : {fast / ours:.2f}")


if __name__ == "__main__":
    main()
