"""CLI commands of the 'fairness' topic (filled in by its issue)."""

from __future__ import annotations


def register(app, data_app, study_app) -> None:
    """Add this topic's commands to the root app and the `data` / `study` groups."""
