"""Training: one engine for fit / evaluate / predict, SAM, losses, DDP helpers.

Importing this package registers the built-in losses (``create_loss`` in :mod:`.losses`).
"""

from fakescope.train import fair_losses, losses  # noqa: F401  (register the built-in losses)
