"""Real ``pcfx worker`` processes for tests: started with a test's settings, stopped or killed on demand.

A worker is a separate process (as in production), so a test can kill it with SIGKILL mid-propagation
and start another, or run two at once to force a consumer-group rebalance.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from pcfx.ops.kafka import free_port
from pcfx.settings import Settings

STOP_TIMEOUT_S = 30  # Faust shuts down cleanly within a few seconds; past this the process is killed


def start_worker(settings: Settings, log: Path, *, web_port: int | None = None) -> subprocess.Popen:
    """Start ``pcfx worker`` with ``settings`` (as PCFX_* variables); its output goes to ``log``."""
    env = {**os.environ, **settings.to_env()}
    command = [sys.executable, "-m", "pcfx.cli", "worker", "--web-port", str(web_port or free_port()), "--loglevel", "info"]
    with log.open("ab") as handle:
        return subprocess.Popen(command, env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True)


def stop_worker(worker: subprocess.Popen, *, kill: bool = False) -> None:
    """SIGTERM (a clean stop) or SIGKILL (a crash); falls back to SIGKILL if a clean stop hangs."""
    if worker.poll() is not None:
        return
    worker.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
    try:
        worker.wait(STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait()

