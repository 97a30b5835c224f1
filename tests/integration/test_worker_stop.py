"""Stopping ``pcfx worker``: clean with Kafka up, and still within PCFX_WORKER_STOP_TIMEOUT_S with Kafka gone."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from workers import start_worker

from pcfx.agents.topics import create_topics
from pcfx.agents.worker import EXIT_STOP_TIMED_OUT
from pcfx.ops.kafka import ensure_broker, free_port, libs_dir, stop_broker
from pcfx.settings import Settings

pytestmark = pytest.mark.kafka
READY_WITHIN_S = 90.0  # a worker joins its group and recovers its (empty) tables in seconds; slack for a busy CI


def wait_until_ready(log: Path) -> None:
    """Block until the worker's log says Faust is running its agents."""
    deadline = time.monotonic() + READY_WITHIN_S
    while "Ready" not in log.read_text(errors="replace"):
        assert time.monotonic() < deadline, f"worker not ready after {READY_WITHIN_S} s:\n{log.read_text()}"
        time.sleep(0.2)


def seconds_to_exit(worker, within_s: float) -> float:
    """SIGTERM the worker and measure how long it takes to end (it must within ``within_s`` seconds)."""
    sent = time.monotonic()
    worker.send_signal(signal.SIGTERM)
    worker.wait(within_s)
    return time.monotonic() - sent


@pytest.fixture
def lonely_broker(tmp_path: Path) -> Iterator[Settings]:
    """Settings on a broker of this test alone, so the test can kill it."""
    settings = Settings.from_env(
        data_dir=tmp_path / "broker",
        kafka_libs=str(libs_dir(Settings.from_env())),
        bootstrap_servers=f"127.0.0.1:{free_port()}",
        kafka_controller_port=free_port(),
        worker_web_port=free_port(),
        partitions=2,
        worker_stop_timeout_s=5,
    )
    ensure_broker(settings)
    create_topics(settings)
    yield settings
    stop_broker(settings)


def test_sigterm_stops_a_worker_cleanly(settings, tmp_path):
    log = tmp_path / "worker.log"
    worker = start_worker(settings, log)
    try:
        wait_until_ready(log)
        seconds_to_exit(worker, within_s=settings.worker_stop_timeout_s)
    finally:
        worker.kill()
    assert worker.returncode == 0, log.read_text()
    assert "exiting without a clean stop" not in log.read_text()


TIMED_OUT_LINE = "pcfx worker: exiting without a clean stop: the clean stop did not finish within 5 s"


def broker_pid(settings: Settings) -> int:
    return int((settings.data_dir / "kafka" / "kafka.pid").read_text())


def stop_after_broker_signal(settings: Settings, log: Path, broker_signal: signal.Signals) -> tuple[int, float]:
    """Start a worker, send its broker ``broker_signal`` once the worker is ready, then SIGTERM the worker:
    its exit code and how long it took to end (a stopped broker is let go on again afterwards)."""
    worker = start_worker(settings, log)
    try:
        wait_until_ready(log)
        os.kill(broker_pid(settings), broker_signal)
        took = seconds_to_exit(worker, within_s=settings.worker_stop_timeout_s + 10)
    finally:
        worker.kill()
        if broker_signal == signal.SIGSTOP:
            os.kill(broker_pid(settings), signal.SIGCONT)
    return worker.returncode, took


def test_a_worker_whose_broker_hangs_exits_on_sigterm_at_the_stop_timeout_saying_so(lonely_broker, tmp_path):
    """A broker that stops answering (SIGSTOP: connections open, no replies) holds Faust's clean stop on
    Kafka's request timeouts; the deadline ends the worker with EX_TEMPFAIL and says why."""
    log = tmp_path / "worker.log"
    returncode, took = stop_after_broker_signal(lonely_broker, log, signal.SIGSTOP)
    assert returncode == EXIT_STOP_TIMED_OUT, log.read_text()
    assert took >= lonely_broker.worker_stop_timeout_s - 0.5  # it did try to stop cleanly first
    assert TIMED_OUT_LINE in log.read_text()


def test_a_worker_whose_broker_died_still_exits_on_sigterm_within_the_stop_timeout(lonely_broker, tmp_path):
    log = tmp_path / "worker.log"
    returncode, took = stop_after_broker_signal(lonely_broker, log, signal.SIGKILL)
    # With the broker refusing connections Faust's stop sometimes ends by itself in a second or two (exit
    # 0) and sometimes waits on Kafka until the deadline ends it (exit 75, saying so): both are bounded,
    # and the exit code tells a supervisor which of the two happened.
    assert returncode in (0, EXIT_STOP_TIMED_OUT), log.read_text()
    timed_out = TIMED_OUT_LINE in log.read_text()
    assert timed_out == (returncode == EXIT_STOP_TIMED_OUT), log.read_text()
    if timed_out:
        assert took >= lonely_broker.worker_stop_timeout_s - 0.5
