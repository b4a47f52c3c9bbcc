"""The registry of dataset layouts: name -> ``fn(root: Path, **options) -> DataFrame``.

A layout's keyword-only parameters are its options; :func:`layout_options` and
:func:`layout_doc` read them from its signature and docstring. The built-in layouts register
when :mod:`fakescope.data.adapters` is imported.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

import pandas as pd

from fakescope.errors import ConfigError
from fakescope.registry import Registry

Layout = Callable[..., pd.DataFrame]

#: layout name -> indexing function.
LAYOUTS: Registry[Layout] = Registry("dataset layout", error=ConfigError)


def register_layout(name: str):
    """Decorator adding a layout function to the registry under ``name``; a name already
    registered raises ValueError."""
    return LAYOUTS.register(name)


def list_layouts(pattern: str | None = None) -> list[str]:
    """Names of the registered layouts, sorted, optionally matching an fnmatch ``pattern``."""
    return LAYOUTS.list(pattern)


def get_layout(name: str) -> Layout:
    """The layout function of ``name``; an unknown name is a ConfigError listing the known."""
    return LAYOUTS.get(name)


def layout_options(name: str) -> dict[str, object]:
    """The options of a layout with their defaults (``{name: default}``)."""
    fn = get_layout(name)
    return {p.name: p.default for p in inspect.signature(fn).parameters.values()
            if p.kind is inspect.Parameter.KEYWORD_ONLY}


def layout_doc(name: str) -> str:
    """First paragraph of a layout's docstring."""
    return (inspect.getdoc(get_layout(name)) or "").split("\n\n")[0]
