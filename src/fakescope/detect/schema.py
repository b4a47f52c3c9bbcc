"""The result objects of ``fakescope detect`` (and of the HTTP service): builders and rules.

One dict per input file, JSON-able, keys in this order (see :mod:`fakescope.detect` for the
full description)::

    image  {"path", "kind": "image", "verdict", "p_fake", ["uncertainty"], "ood_score",
            "in_distribution", "n_faces", "face", "box", "faces": [face, ...],
            "faces_mode", "input", ["maps"]}
    face   {"index", "box", "det_score", "p_fake", "verdict", ["uncertainty"], "ood_score",
            "in_distribution"}
    video  {"path", "kind": "video", "verdict", "p_fake", ["uncertainty"], "ood_score",
            "in_distribution", "n_frames_scored", "n_frames_sampled", "faces_mode",
            "frames": [{"frame", "face", "box", "p_fake", ["uncertainty"], "ood_score",
                        "in_distribution"}], ["maps"]}
    not scored  {"path", "kind", "verdict": "error" | "no_face", "error": message,
                 "reason": code, ...what is known (e.g. "input", "n_faces": 0)}

Verdicts (:func:`verdict`): ``"uncertain"`` when the input is out of distribution
(``in_distribution`` is False: P(fake) is kept in ``p_fake`` but should not be trusted), else
``"fake"`` when ``p_fake >= threshold``, else ``"real"``. ``ood_score`` and
``in_distribution`` are None when the checkpoint has no OOD statistics.
"""

from __future__ import annotations

from typing import Any

#: ``reason`` codes of results that were not scored.
REASONS = ("not_found", "empty", "truncated", "unreadable", "too_large", "too_small",
           "unsupported", "no_face", "video_error", "wrong_input", "worker_failed")


def verdict(p_fake: float, in_distribution: bool | None, threshold: float) -> str:
    """``"uncertain"`` out of distribution, else ``"fake"``/``"real"`` at ``threshold``."""
    if in_distribution is False:
        return "uncertain"
    return "fake" if p_fake >= threshold else "real"


def box_list(box) -> list[float]:
    """``(x0, y0, x1, y1)`` -> a list rounded to 0.1 px."""
    return [round(float(v), 1) for v in box]


def scored(p_fake: float, *, threshold: float, uncertainty: dict | None = None,
           ood_score: float | None = None, in_distribution: bool | None = None) -> dict:
    """The scored part every face, frame and clip carries."""
    out: dict[str, Any] = {"p_fake": float(p_fake),
                           "verdict": verdict(p_fake, in_distribution, threshold)}
    if uncertainty is not None:
        out["uncertainty"] = {k: float(v) for k, v in uncertainty.items()}
    out["ood_score"] = None if ood_score is None else float(ood_score)
    out["in_distribution"] = None if in_distribution is None else bool(in_distribution)
    return out


def face_entry(index: int, box, det_score: float | None, score: dict) -> dict:
    """One face (or, with ``--faces none``, the whole image) of an image result."""
    return {"index": int(index), "box": box_list(box),
            "det_score": None if det_score is None else round(float(det_score), 4), **score}


def image_result(path: str, faces: list[dict], *, faces_mode: str, input_info: dict,
                 maps: dict | None = None) -> dict:
    """The file's result: the most-fake face's score (ties: the first), and every face."""
    top = max(range(len(faces)), key=lambda i: (faces[i]["p_fake"], -i))
    f = faces[top]
    out: dict[str, Any] = {"path": path, "kind": "image", "verdict": f["verdict"],
                           "p_fake": f["p_fake"]}
    if "uncertainty" in f:
        out["uncertainty"] = f["uncertainty"]
    out.update(ood_score=f["ood_score"], in_distribution=f["in_distribution"],
               n_faces=len(faces) if faces_mode != "none" else None, face=f["index"],
               box=f["box"], faces=faces, faces_mode=faces_mode, input=input_info)
    if maps:
        out["maps"] = maps
    return out


def not_scored(path: str, kind: str, message: str, reason: str, **known) -> dict:
    """A file that was not scored: ``verdict`` is ``"no_face"`` for ``reason="no_face"``,
    else ``"error"``; ``error`` is the message a person reads, ``reason`` the code."""
    return {"path": path, "kind": kind, "verdict": "no_face" if reason == "no_face" else "error",
            "error": message, "reason": reason, **known}


def table_row(result: dict) -> dict:
    """One line of the CLI's table for a result."""
    unc = result.get("uncertainty") or {}
    return {"path": result["path"], "kind": result.get("kind", ""),
            "verdict": result.get("verdict", "error"),
            "p_fake": result.get("p_fake", float("nan")),
            "faces": "" if result.get("n_faces") is None else result["n_faces"],
            "epistemic": unc.get("epistemic", float("nan")),
            "ood_score": float("nan") if result.get("ood_score") is None else result["ood_score"],
            "note": result.get("error", "")}
