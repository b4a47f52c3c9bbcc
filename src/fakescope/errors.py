"""User-facing errors.

Every error a user can fix is a :class:`FakescopeError`: the CLI prints its message on one line
and exits with code 2 (``--debug`` shows the traceback). The message names the file, the problem
and, where there is one, the fix.
"""

from __future__ import annotations

from pathlib import Path


class FakescopeError(Exception):
    """An error caused by input the user can fix (bad file, bad config, bad option)."""

    def __init__(self, message: str, *, path: str | Path | None = None, hint: str | None = None):
        self.path = None if path is None else str(path)
        self.problem = message
        self.hint = hint
        text = f"{self.path}: {message}" if self.path else message
        if hint:
            text = f"{text} ({hint})"
        super().__init__(text)


class ConfigError(FakescopeError):
    """A config file or option has an unknown key, a wrong type or a bad value."""


class DataError(FakescopeError):
    """A manifest, image, video or scores file is missing, unreadable or malformed."""


class ModelError(FakescopeError):
    """A checkpoint or model name cannot be loaded."""
