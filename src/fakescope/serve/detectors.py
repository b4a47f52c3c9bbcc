"""The detectors a server holds: one :class:`fakescope.detect.DetectSession` per checkpoint.

Each ``--model`` is its own detector, answered side by side (not an ensemble). Every answer is
the object ``fakescope detect --json`` prints, made by the same session code (faces found and
aligned as the checkpoint's training data was, per-face results, the OOD flag). The service only
changes where overlay maps go: into a temporary folder whose files are named by request ids,
read back as PNG data URLs and deleted (an uploaded file's name never reaches the disk).

``uncertainty="auto"``: ``mc_head`` for a detector with head dropout, else ``none`` (one pass:
no epistemic uncertainty, which the model card says).
"""

from __future__ import annotations

import base64
import hashlib
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fakescope.detect import DetectOptions, DetectSession, MediaInput
from fakescope.errors import ConfigError
from fakescope.models.device import resolve_device
from fakescope.train.signal_data import is_map_detector


@dataclass(eq=False)
class LoadedDetector:
    """One checkpoint in memory: ``key`` names it in every response."""

    key: str
    path: str
    session: DetectSession
    version: str
    card: dict[str, Any] = field(default_factory=dict)

    @property
    def meta(self) -> dict[str, Any]:
        return self.session.metas[0]

    @property
    def method(self) -> str:
        return self.session.options.uncertainty

    @property
    def samples(self) -> int:
        return self.session.options.samples if self.method != "none" else 1

    @property
    def image_size(self) -> int:
        return self.session.image_size

    @property
    def name(self) -> str:
        return self.session.name

    @property
    def scores_images(self) -> bool:
        """False for a biological detector (``ppg_map``, ``motion_map``): it reads signal maps
        of a whole clip, so it answers video jobs only."""
        return not is_map_detector(self.name)

    def score(self, inputs: list[MediaInput], *, maps: bool = False) -> list[dict[str, Any]]:
        """Session results of ``inputs`` in order; with ``maps`` each scored result's
        ``"maps"`` holds PNG data URLs instead of file paths (saliency overlays, or a
        biological detector's first signal map)."""
        if not maps:
            return list(self.session.iter_detect(inputs))
        with tempfile.TemporaryDirectory(prefix="fakescope-serve-") as tmp:
            # a biological detector has no pixel saliency: it shows its first signal map
            where = {"map_dir": tmp} if self.scores_images else {"save_maps": tmp}
            out = list(self.session.iter_detect(inputs, **where))
            for r in out:
                if isinstance(r.get("maps"), dict):
                    r["maps"] = {k: (png_data_url(v) if isinstance(v, str) else v)
                                 for k, v in r["maps"].items()}
        return out


def weights_version(folder: str | Path) -> str:
    """The first 12 hex digits of the weights' sha256: a version that changes with the weights."""
    h = hashlib.sha256()
    with open(Path(folder) / "model.safetensors", "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:12]


def has_head_dropout(model) -> bool:
    drop = getattr(model, "head_dropout", None)
    return drop is not None and float(getattr(drop, "p", 0.0)) > 0


def load_detectors(paths: list[str | Path], *, device: str = "auto", uncertainty: str = "auto",
                   samples: int = 16, options: DetectOptions | None = None
                   ) -> list[LoadedDetector]:
    """Load every checkpoint as its own session (ConfigError/ModelError naming the one that
    fails). ``options``: the sessions' :class:`~fakescope.detect.DetectOptions` (faces,
    threshold, intake limits, frames per video, batch size); ``uncertainty``: ``"auto"``,
    ``"none"`` or ``"mc_head"``. Map detectors (ppg_map, motion_map) score signal maps of whole
    clips: they answer video jobs, not images (:attr:`LoadedDetector.scores_images`)."""
    from fakescope.serve.cards import model_card

    if uncertainty not in ("auto", "none", "mc_head"):
        raise ConfigError(f"--uncertainty {uncertainty!r}", hint="use auto, none or mc_head")
    dev = resolve_device(device)
    base = options or DetectOptions()
    out: list[LoadedDetector] = []
    for p in paths:
        session = DetectSession.load(p, base, device=dev)
        name = session.name
        method = uncertainty
        if uncertainty == "auto":
            method = "mc_head" if has_head_dropout(session.models[0]) else "none"
        session.options = DetectOptions(**{**base.__dict__, "uncertainty": method,
                                           "samples": samples}).check()
        key, k = name, 2
        while any(d.key == key for d in out):
            key, k = f"{name}-{k}", k + 1
        folder = Path(p) if Path(p).is_dir() else Path(p).parent
        det = LoadedDetector(key=key, path=str(p), session=session,
                             version=weights_version(folder))
        det.card = model_card(det)
        out.append(det)
    return out


def png_data_url(path: str | Path, *, max_side: int = 720) -> str:
    """A PNG file as a ``data:image/png;base64,...`` URL, shrunk to ``max_side`` pixels (the
    page shows it beside the cards; the full-size overlay is ``fakescope detect --map``'s)."""
    import cv2

    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    h, w = bgr.shape[:2]
    if max(h, w) > max_side:
        s = max_side / max(h, w)
        bgr = cv2.resize(bgr, (max(1, round(w * s)), max(1, round(h * s))),
                         interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".png", bgr)
    return "data:image/png;base64," + base64.b64encode(buf.tobytes()).decode("ascii")
