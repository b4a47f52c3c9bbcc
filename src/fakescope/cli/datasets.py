"""CLI commands of the 'datasets' topic: index a dataset on disk, extract faces, list layouts."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from fakescope.cli.backend import BACKEND, RAY_ADDRESS, workers_option
from fakescope.errors import ConfigError


def _parse_value(text: str):
    low = text.strip().lower()
    if low in ("true", "yes", "on"):
        return True
    if low in ("false", "no", "off"):
        return False
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def parse_options(items: list[str]) -> dict:
    """``["compression=c40", "methods=Deepfakes,FaceSwap"]`` -> dict (ints, floats, bools cast)."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"option {item!r} is not KEY=VALUE", hint="e.g. -o compression=c40")
        out[key.strip()] = _parse_value(value)
    return out


def index(
    layout: str = typer.Argument(..., help="Dataset layout: ffpp, celebdf, dfdc, df40, folder, "
                                 "deepfakebench (see `fakescope data layouts`)."),
    root: Path = typer.Argument(..., help="Dataset root folder (deepfakebench: JSON file/folder)."),
    out: Path = typer.Option(..., "--out", help="Manifest to write (.csv or .parquet)."),
    option: list[str] = typer.Option([], "--option", "-o", help="Layout option KEY=VALUE "
                                     "(repeatable), e.g. -o compression=c40."),
    missing: str = typer.Option("error", help="Files listed but not on disk: error|skip."),
    relative: bool = typer.Option(False, help="Write paths relative to the manifest's folder."),
):
    """Index a dataset as its owners distribute it into a manifest (labels, sources, ids, splits).

    Example: fakescope data index ffpp /data/FaceForensics++ --out ffpp.csv -o compression=c23
    """
    from fakescope.cli.output import console, print_table
    from fakescope.data.adapters import index_dataset
    from fakescope.data.manifest import write_manifest

    df = index_dataset(layout, root, missing=missing, **parse_options(option))
    if relative:
        base = out.parent.resolve()
        df["path"] = [os.path.relpath(p, base) for p in df["path"]]
    write_manifest(df, out)
    counts = (df.assign(split=df["split"].replace("", "-"))
              .groupby(["split", "source"]).size().rename("rows").reset_index())
    print_table(counts, title=f"{layout}: {len(df)} rows, {df['video_id'].nunique()} videos")
    if df.attrs.get("missing"):
        console.print(f"skipped {len(df.attrs['missing'])} listed file(s) not on disk")
    console.print(f"manifest: {out}")


def faces(
    manifest: Path = typer.Argument(..., help="Manifest of images and/or videos."),
    out: Path = typer.Option(..., "--out", help="Output folder (crops, faces.csv, skipped.csv)."),
    frames: int = typer.Option(32, "--frames", help="Evenly spaced frames per video (0 = all)."),
    stride: int | None = typer.Option(None, help="Take every s-th frame instead of --frames."),
    policy: str = typer.Option("largest", help="Several faces: largest|all|tracked."),
    size: int = typer.Option(256, help="Crop size in pixels."),
    margin: float = typer.Option(1.3, help="Context around the face (1.3 = DeepfakeBench)."),
    detector: str = typer.Option("hog", help="dlib detector: hog|cnn."),
    landmarks: int = typer.Option(68, help="Landmark points: 68|5|0."),
    upsample: int = typer.Option(0, help="Upsampling passes (find faces < 80 px; slower)."),
    workers: int = workers_option(),
    num_shards: int = typer.Option(1, help="Split the work over N machines ..."),
    shard_index: int = typer.Option(0, help="... and run share i (0-based) here."),
    progress: bool = typer.Option(True, help="Show a progress bar."),
    backend: str = BACKEND,
    ray_address: str | None = RAY_ADDRESS,
):
    """Detect, align and crop faces (with landmarks) from every image/video of a manifest.

    Resumable: a re-run skips finished items. Writes OUT/faces.csv, a manifest of the crops.
    On a cluster: --backend ray (one Ray task per item), or one shard per job of a SLURM array.

    Example: fakescope data faces ffpp.csv --out faces/ffpp --frames 32 --workers 8

    Example: fakescope data faces ffpp.csv --out /shared/faces/ffpp --backend ray --ray-address auto
    """
    from fakescope.cli.backend import backend_from
    from fakescope.cli.output import console, print_table
    from fakescope.data.face_extraction import extract_faces

    s = extract_faces(manifest, out, frames_per_video=frames or None, stride=stride,
                      policy=policy, size=size, margin=margin, detector=detector,
                      landmarks=landmarks, upsample=upsample,
                      num_shards=num_shards, shard_index=shard_index, progress=progress,
                      backend=backend_from(backend, workers, ray_address))
    import pandas as pd

    rows = [("items in this shard", s.items), ("finished before", s.done_before),
            ("processed now", s.processed), ("items with faces", s.items_with_faces),
            ("frames read", s.frames), ("crops written", s.crops),
            ("frames without a face", s.frames_without_face)]
    rows += [(f"skipped: {k}", v) for k, v in sorted(s.skipped_by_reason.items())]
    rows += [("not finished (all shards)", s.pending),
             ("crops in faces.csv", s.total_crops)]
    print_table(pd.DataFrame(rows, columns=["", "count"]), title="face extraction")
    console.print(f"crops manifest: {s.manifest_path}\nskipped: {s.skipped_path}")


def layouts():
    """List the dataset layouts and their options.

    Example: fakescope data layouts
    """
    import pandas as pd

    from fakescope.cli.output import print_table
    from fakescope.data.adapters import layout_doc, layout_options, list_layouts

    rows = [{"layout": n, "options": ", ".join(f"{k}={v}" for k, v in layout_options(n).items()),
             "reads": layout_doc(n)} for n in list_layouts()]
    print_table(pd.DataFrame(rows), title="dataset layouts")


def register(app, data_app, study_app) -> None:
    """Add this topic's commands to the root app and the `data` / `study` groups."""
    data_app.command()(index)
    data_app.command()(faces)
    data_app.command()(layouts)
