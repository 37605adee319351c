"""The worker's garbage collector, tuned for serving (measured: docs/perf.md, "the collector's share").

CPython's cycle collector makes a pass over the young objects every 700 allocations (net of deallocations) and,
every so often, a full pass over every object the process holds. A worker holds a large heap that lives as long
as it does (modules, the OpenAPI document, the config, the metrics) and makes thousands of short-lived objects per
request, almost none of them in reference cycles: measured in a loaded worker, the collector took about 6 µs of
each request, the full passes (some 25 ms each) half of it. So once the worker has started, what it holds then is
left out of every pass (`gc.freeze`: 3.6 µs a request) and the young passes run less often (a threshold of 2,000
instead of 700: 17 passes per 1,000 requests become 2, and 1.9 µs a request). A higher threshold saves nothing more
and keeps more garbage: 7,000 cost 4.3 MB of the worker's memory over 200,000 requests, 2,000 0.8 MB.
"""

from __future__ import annotations

import gc

THRESHOLDS = (2000, 10, 10)
"""`gc.set_threshold`'s: CPython's defaults but the first, 700."""


def tune() -> None:
    """Call once the worker has started (its long-lived objects made)."""
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
