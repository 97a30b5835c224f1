"""Python's cyclic garbage collector, paused while pcfx builds many objects that all live on.

CPython starts a collection after every 700 net allocations and sweeps the older generations whenever their
survivors have grown by a quarter. Building a dense table (tens of thousands of BOM lines: rows, floats,
decimal strings, dicts, models) allocates about a million objects that all survive the build, so the
collector sweeps an ever larger heap over and over and frees nothing: about half the CPU of reading a dense
table and building its recipes (docs/benchmarks.md). Those objects hold no reference cycles, so reference
counting frees whatever dies meanwhile, and the collector takes up its work again when the block ends.

Only bounded builds are wrapped: a block that runs for long or makes cycles (an event loop, a client)
must leave the collector running.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_depth = 0  # paused blocks open now, across threads
_resume = False  # whether the collector ran when the outermost block began (one paused by the caller stays off)


@contextmanager
def collector_paused() -> Iterator[None]:
    """Run the block with the cyclic collector off; blocks may nest and overlap across threads, and the
    collector comes back (if it was on before the first of them) when the last one ends, however it ends."""
    global _depth, _resume  # noqa: PLW0603  (one collector per process: its pause is process state too)
    with _lock:
        if _depth == 0:
            _resume = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _resume:
                gc.enable()
