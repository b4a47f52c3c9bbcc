"""Training configuration: nested dataclasses loaded from YAML with validation.

Unknown keys and wrong types are :class:`~fakescope.errors.ConfigError`s that name the file and
the key path (``optim.lr``). ``--set optim.lr=3e-4`` style overrides go through the same checks.

Recipes ship inside the package (``fakescope/configs/*.yaml``): :func:`load_config` takes a path
to a YAML file or the bare name of a packaged recipe (``"resnet18"``); :func:`list_recipes`
names them and :func:`resolve_recipe` gives the file (copy it to make your own).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from fakescope.errors import ConfigError


@dataclass
class DataConfig:
    manifest: str = ""
    image_size: int = 128
    target: str = "binary"  # binary | multiclass (real + each source)
    train_split: str = "train"
    val_split: str = "val"
    test_split: str = "test"
    group_column: str | None = None  # integer-coded into batch["group"] (fairness losses, MTL)
    augment: bool = True  # horizontal flip
    sampler: str = "shuffle"  # shuffle | paired (each real next to a fake made from it)
    pair_column: str = "pair_id"  # the key that pairs a real with its fakes (sampler=paired)
    cache_images: bool = False  # decode every image once and keep it in memory
    num_workers: int = 0
    # Largest share of train (or val) rows that may be unreadable before training refuses to
    # go on (fakescope.train.readable): 0.01 = 1 %, 0 = none, 1 = any.
    max_unreadable: float = 0.01
    # Map detectors (ppg_map, motion_map) on a video manifest; see fakescope.train.signal_data.
    signals_dir: str = ""  # extract_signals' folder; "" = <run folder>/signals/<dataset>_...
    map_cache: str = ""  # the per-clip map cache; "" = <run folder>/maps/<dataset>_...
    map_window: int = 64  # frames (flow samples) per map = the map height
    map_stride: int = 32  # frames between window starts
    landmarks: str = "manifest"  # manifest (column landmarks_path) | detect (dlib + tracking)
    flow: str = "farneback"  # farneback | dis | none (none: ppg_map only)
    signal_workers: int = 1  # processes extracting signals


@dataclass
class ModelConfig:
    name: str = "resnet18"
    dropout: float = 0.2  # before each head (mc_head samples it)
    backbone_dropout: float = 0.0  # after each backbone stage (mc samples it with the head's)
    pretrained: bool = False
    checkpoint_path: str | None = None
    heads: dict[str, int] = field(default_factory=dict)


@dataclass
class OptimConfig:
    name: str = "adamw"  # adamw | adam | sgd
    lr: float = 1e-3
    weight_decay: float = 1e-4
    momentum: float = 0.9
    sam: bool = False  # sharpness-aware minimisation over the base optimiser
    sam_rho: float = 0.05
    sam_adaptive: bool = False
    grad_clip: float | None = None


@dataclass
class ScheduleConfig:
    name: str = "cosine"  # cosine | step | none
    warmup_epochs: int = 0
    step_size: int = 10
    gamma: float = 0.1


@dataclass
class LossConfig:
    name: str = "ce"
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class RunConfig:
    epochs: int = 5
    batch_size: int = 32
    eval_batch_size: int = 128
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    amp: bool = True  # mixed precision: fp16/bf16 on CUDA, bf16 on CPUs with native bf16
    channels_last: bool = True  # NHWC memory layout (faster convolutions on CPU and GPU)
    select_metric: str = "auc"  # validation metric that picks the best checkpoint
    save_every_steps: int = 0  # mid-epoch checkpoints for resume (0 = end of epoch only)
    resume: bool = True
    progress: bool = True


@dataclass
class TrainConfig:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    train: RunConfig = field(default_factory=RunConfig)
    out_dir: str = "runs/train"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp).replace("typing.", ""))


def _coerce(value: Any, tp: Any, where: str, origin: str) -> Any:
    """Check ``value`` against the annotation ``tp``; ints are accepted for floats."""
    o = typing.get_origin(tp)
    if o in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for a in args:
            if a is type(None):
                continue
            try:
                return _coerce(value, a, where, origin)
            except ConfigError as exc:
                errors.append(exc)
        raise errors[0]
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"'{where}' must be a mapping, got {type(value).__name__}", path=origin)
        return _build(tp, value, where, origin)
    if o is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"'{where}' must be a mapping, got {type(value).__name__}", path=origin)
        _, vt = typing.get_args(tp)
        return {str(k): _coerce(v, vt, f"{where}.{k}", origin) for k, v in value.items()}
    if o is list:
        if not isinstance(value, list):
            raise ConfigError(f"'{where}' must be a list", path=origin)
        (vt,) = typing.get_args(tp)
        return [_coerce(v, vt, f"{where}[{i}]", origin) for i, v in enumerate(value)]
    if tp is Any:
        return value
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if tp is float and isinstance(value, str):
        try:
            return float(value)  # YAML reads 1e-3 as a string
        except ValueError:
            pass
    if tp is int and isinstance(value, bool):
        raise ConfigError(f"'{where}' must be int, got bool", path=origin)
    if not isinstance(value, tp):
        raise ConfigError(f"'{where}' must be {_type_name(tp)}, got {type(value).__name__} "
                          f"{value!r}", path=origin)
    return value


def _build(cls: type, data: dict[str, Any], where: str, origin: str):
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        key = f"{where}.{unknown[0]}" if where else unknown[0]
        raise ConfigError(f"unknown key '{key}'", path=origin,
                          hint=f"known keys here: {', '.join(sorted(names))}")
    kwargs = {k: _coerce(v, hints[k], f"{where}.{k}" if where else k, origin)
              for k, v in data.items()}
    return cls(**kwargs)


#: Keys whose value must be one of a few words.
CHOICES = {("data", "landmarks"): ("manifest", "detect"),
           ("data", "flow"): ("farneback", "dis", "none")}
#: Integer keys with a lower bound (a map window shorter than 8 has no spectrum worth a map).
MINIMUM = {("data", "map_window"): 8, ("data", "map_stride"): 1, ("data", "signal_workers"): 1}


def _check_values(cfg: TrainConfig, origin: str) -> TrainConfig:
    for (section, key), allowed in CHOICES.items():
        value = getattr(getattr(cfg, section), key)
        if value not in allowed:
            raise ConfigError(f"'{section}.{key}' must be one of {', '.join(allowed)}, got "
                              f"{value!r}", path=origin)
    share = cfg.data.max_unreadable
    if not 0.0 <= share <= 1.0:
        raise ConfigError(f"'data.max_unreadable' is a share of rows in [0, 1], got {share!r}",
                          path=origin, hint="e.g. 0.01 for 1 %")
    for (section, key), low in MINIMUM.items():
        value = getattr(getattr(cfg, section), key)
        if value < low:
            raise ConfigError(f"'{section}.{key}' must be >= {low}, got {value!r}", path=origin)
    return cfg


def config_from_dict(data: dict[str, Any], *, origin: str = "<config>") -> TrainConfig:
    """Validate a nested dict into a :class:`TrainConfig` (types, and the values of
    :data:`CHOICES` and :data:`MINIMUM`)."""
    if not isinstance(data, dict):
        raise ConfigError("a config must be a YAML mapping", path=origin)
    return _check_values(_build(TrainConfig, data, "", origin), origin)


def parse_override(text: str) -> tuple[list[str], Any]:
    """``"optim.lr=3e-4"`` -> (["optim", "lr"], 3e-4) with the value parsed as YAML."""
    if "=" not in text:
        raise ConfigError(f"override {text!r} is not KEY=VALUE", hint="e.g. --set optim.lr=3e-4")
    key, raw = text.split("=", 1)
    return key.strip().split("."), yaml.safe_load(raw)


#: Folder of the packaged training recipes (``<name>.yaml``).
RECIPES_DIR = Path(__file__).resolve().parent / "configs"
_YAML_SUFFIXES = (".yaml", ".yml")


def list_recipes() -> list[str]:
    """Names of the packaged training recipes, sorted (``["resnet18", ...]``)."""
    return sorted(p.stem for p in RECIPES_DIR.glob("*.yaml"))


def resolve_recipe(name_or_path: str | Path) -> Path:
    """The YAML file a config argument means: a path that exists is that file; otherwise a bare
    name (``"resnet18"`` or ``"resnet18.yaml"``, no folder) is the packaged recipe of that name.

    Raises :class:`ConfigError` naming the packaged recipes for an unknown name or a missing
    path, and for a path that is not a file.
    """
    path = Path(name_or_path)
    if path.is_file():
        return path
    if path.exists():
        raise ConfigError("not a file", path=path, hint="give a YAML config file")
    known = list_recipes()
    recipes = f"packaged recipes: {', '.join(known) or 'none'}"
    bare = len(path.parts) == 1 and path.suffix in ("", *_YAML_SUFFIXES)
    if bare:
        name = path.stem if path.suffix else path.name
        packaged = RECIPES_DIR / f"{name}.yaml"
        if packaged.is_file():
            return packaged
        raise ConfigError(f"no config file or packaged recipe named {str(name_or_path)!r}",
                          hint=f"{recipes}; or give the path to a YAML file")
    example = f"; pass a name, e.g. `fakescope train {known[0]}`" if known else ""
    raise ConfigError("config file not found", path=path, hint=recipes + example)


def load_config(path: str | Path | None, overrides: list[str] | tuple[str, ...] = (), *,
                settings: dict[str, Any] | None = None) -> TrainConfig:
    """Load a YAML config (or the defaults when ``path`` is None) and apply overrides.

    ``path``: a YAML file, or the name of a packaged recipe (see :func:`resolve_recipe`).
    ``overrides``: ``--set``-style ``"optim.lr=3e-4"`` texts (values parsed as YAML);
    ``settings``: the same as a dict of dotted keys to Python values
    (``{"optim.lr": 3e-4, "loss.options": {"alpha": 0.5}}``), applied after ``overrides``.
    This is the one way code builds a training config: every key is checked as in a YAML file.
    """
    data: dict[str, Any] = {}
    origin = "<defaults>"
    if path is not None:
        path = resolve_recipe(path)
        origin = str(path)
        try:
            data = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"not valid YAML: {exc}".replace("\n", " "), path=path) from exc
    pairs = [(*parse_override(text), f"override {text!r}") for text in overrides]
    pairs += [(key.split("."), value, f"setting {key!r}") for key, value in (settings or {}).items()]
    for keys, value, what in pairs:
        node = data
        for k in keys[:-1]:
            node = node.setdefault(k, {})
            if not isinstance(node, dict):
                raise ConfigError(f"{what}: '{k}' is not a section", path=origin)
        node[keys[-1]] = value
    return config_from_dict(data, origin=origin)


def save_config(cfg: TrainConfig, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False))
    return path
