"""Dataset layouts: read a benchmark as its owners distribute it and return a manifest.

``index_dataset("ffpp", "/data/FaceForensics++", compression="c23")`` returns a validated
manifest DataFrame (see :mod:`fakescope.data.manifest`) with one row per video (or per image /
extracted frame), plus the columns ``media`` (``video``/``image``) and ``dataset``.
Video ids are globally unique: ``<dataset>/<method>/<clip>``, so FF++'s ``000_003`` under
Deepfakes and under FaceSwap stay separate.

Layouts are registered by name with :func:`register_layout` (``list_layouts(pattern=None)``
names them); each is a function ``fn(root: Path, **options) -> DataFrame`` whose keyword-only
options are the layout's options. Importing this package registers the built-in layouts.
"""

from fakescope.data.adapters import (  # noqa: F401  (register the built-in layouts)
    celebdf,
    deepfakebench,
    df40,
    dfdc,
    ffpp,
    folder,
)
from fakescope.data.adapters.index import index_dataset
from fakescope.data.adapters.registry import (
    get_layout,
    layout_doc,
    layout_options,
    list_layouts,
    register_layout,
)

__all__ = ["get_layout", "index_dataset", "layout_doc", "layout_options", "list_layouts",
           "register_layout"]
