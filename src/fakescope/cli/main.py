"""Entry point of the ``fakescope`` command.

Each topic module (``fakescope.cli.<topic>``) defines ``register(app, data_app, study_app)`` and
adds its commands there, so a topic's commands live beside nothing else.
"""

from __future__ import annotations

import importlib
import os
import sys

import typer

from fakescope.errors import FakescopeError

TOPICS = ("core", "synth", "difficulty", "uncertainty", "fairness", "separability", "datasets",
          "signals", "video", "ood")

app = typer.Typer(
    name="fakescope",
    help="Trustworthy deepfake detection: train, evaluate, detect; uncertainty, fairness and "
    "backbone separability studies.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
data_app = typer.Typer(help="Build, index and prepare datasets.", no_args_is_help=True)
study_app = typer.Typer(help="Run a research study and write its report section.",
                        no_args_is_help=True)
app.add_typer(data_app, name="data")
app.add_typer(study_app, name="study")

_DEBUG = {"on": False}


@app.callback()
def _root(debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors.")):
    """fakescope: trustworthy deepfake detection."""
    _DEBUG["on"] = debug or os.environ.get("FAKESCOPE_DEBUG") == "1"


for _topic in TOPICS:
    _mod = importlib.import_module(f"fakescope.cli.{_topic}")
    _mod.register(app, data_app, study_app)


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; user errors print one line and exit with code 2."""
    try:
        app(args=argv, standalone_mode=True)
    except FakescopeError as exc:
        if _DEBUG["on"]:
            raise
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)


if __name__ == "__main__":
    main()
