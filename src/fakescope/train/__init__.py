"""Training: one engine for fit / evaluate / predict, SAM, losses, DDP helpers."""
