"""HTTP service and upload page (layer 4): ``fakescope serve`` (needs the ``serve`` extra).

Modules, one job each: :mod:`~fakescope.serve.app` (FastAPI routes), :mod:`.service` (the
service without HTTP), :mod:`.settings`, :mod:`.detectors` (loaded checkpoints, scoring
in-memory images), :mod:`.batching` (micro-batches), :mod:`.jobs` (SQLite job store),
:mod:`.runner` (job thread, webhooks), :mod:`.video` (video jobs), :mod:`.results` and
:mod:`.verdict` (answers, bands), :mod:`.limits` (the limits table, sniffing, image intake),
:mod:`.body_limit`, :mod:`.metrics` (Prometheus text), :mod:`.cards` (model cards);
``static/`` holds the page.
"""
