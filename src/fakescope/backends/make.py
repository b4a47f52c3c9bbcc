"""A backend from command-line values, checked before any work starts."""

from __future__ import annotations

from fakescope.backends.spec import Backend


def make_backend(name: str = "local", *, workers: int = 1, address: str | None = None,
                 gpus: float | None = None, retries: int = 2) -> Backend:
    """A :class:`Backend` from command-line values (``address``: empty string = none), checked
    before any work starts: for Ray, that it is installed and that the address answers."""
    backend = Backend(name, workers, address or None, gpus, retries)
    if backend.name == "ray":
        from fakescope.backends.ray_tasks import check_address, require_ray

        require_ray(import_it=False)
        if backend.address:
            check_address(backend.address)
    return backend
