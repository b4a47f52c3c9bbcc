"""The backend options every batch command shares (``--backend``, ``--ray-address``,
``--workers``), defined once; see docs/scaling.md."""

from __future__ import annotations

import typer

BACKEND = typer.Option("local", "--backend", help="Where the work runs: local (this machine: "
                       "--workers processes) or ray (Ray tasks; the ray extra).")
RAY_ADDRESS = typer.Option(None, "--ray-address", help="With --backend ray: the cluster to join "
                           "(host:6379, ray://host:10001 or auto); default: start Ray on this "
                           "machine for the run. Every node must see the inputs and outputs at "
                           "the same paths.")


def workers_option(default: int = 1):
    return typer.Option(default, "--workers", help="local: processes on this machine; ray: at "
                        "most this many tasks at once (0: as many as the cluster has CPUs).")


def backend_from(name: str, workers: int, address: str | None):
    """The :class:`~fakescope.backends.Backend` of the command-line values (checked)."""
    from fakescope.backends import make_backend

    return make_backend(name, workers=workers, address=address)
