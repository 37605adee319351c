"""The worker's garbage collector, tuned for serving (measured: docs/perf.md, "the collector's share").

CPython's cycle collector makes a pass over the young objects every 700 allocations (net of deallocations) and,
every so often, a full pass over every object the process holds. A worker holds a large heap that lives as long
as it does (modules, the OpenAPI document, the config, the metrics) and makes thousands of short-lived objects per
request, almost none of them in reference cycles: measured in a loaded worker, the collector took about 6 µs of
each request, the full passes (some 25 ms each) half of it. So once the worker has started, what it holds then is
left out of every pass (`gc.freeze`) and the young passes run ten times less often: about 1.7 µs a request.
"""

from __future__ import annotations

import gc

THRESHOLDS = (7000, 10, 10)
"""`gc.set_threshold`'s: CPython's defaults but the first, 700."""


def tune() -> None:
    """Call once the worker has started (its long-lived objects made)."""
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
