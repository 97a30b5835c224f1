"""The Faust worker pcfx runs, with a deadline on stopping.

Faust stops service by service, and each may wait up to a minute (mode's ``shutdown_timeout``) for Kafka:
with the broker gone, a SIGTERM could leave the process hanging for many minutes, so a supervisor or a
user's Ctrl-C would not stop it. Exiting without the clean stop is safe: it is the same as a crash, which
pcfx survives by design (table writes reach their changelog before the local store, offsets are committed
only after the outputs are confirmed), so a restart resumes where Kafka says the worker was.
"""

from __future__ import annotations

import os
import signal
import sys
import threading

from faust.worker import Worker

EXIT_STOP_TIMED_OUT = 75  # EX_TEMPFAIL: the worker stopped without its clean shutdown; restart it to resume


class DeadlineWorker(Worker):
    """A worker that exits at most ``stop_timeout_s`` after SIGTERM/SIGINT, and at once on a second one."""

    def __init__(self, *args: object, stop_timeout_s: float, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.stop_timeout_s = stop_timeout_s

    def _schedule_shutdown(self, signal_received: signal.Signals) -> None:
        if self._signal_stop_time:
            exit_without_clean_stop(f"a second {signal_received.name} arrived during the clean stop")
        super()._schedule_shutdown(signal_received)
        reason = f"the clean stop did not finish within {self.stop_timeout_s:g} s (PCFX_WORKER_STOP_TIMEOUT_S)"
        deadline = threading.Timer(self.stop_timeout_s, exit_without_clean_stop, args=(reason,))
        deadline.daemon = True  # a stop that finishes in time ends the process with the timer pending
        deadline.start()


def exit_without_clean_stop(reason: str) -> None:
    """Leave now, from any thread, saying why; Kafka keeps everything a restart needs."""
    sys.stderr.write(f"pcfx worker: exiting without a clean stop: {reason}; a restart resumes from Kafka\n")
    sys.stderr.flush()
    os._exit(EXIT_STOP_TIMED_OUT)
