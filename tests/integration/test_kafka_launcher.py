"""`pcfx kafka start|stop|status` against real brokers it starts, and the session fixture's two paths."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from kafka import KafkaConsumer, KafkaProducer
from kafka.errors import KafkaTimeoutError

from pcfx.agents.topics import admin_client
from pcfx.ops.kafka import broker_answers, free_port, libs_dir, stop_broker
from pcfx.settings import Settings

pytestmark = pytest.mark.kafka

CONFTEST = Path(__file__).parents[1] / "conftest.py"


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[dict[str, str]]:
    """Environment for a broker of this test alone (free ports, own data dir, shared jar cache); always stopped."""
    env = {
        "PCFX_DATA_DIR": str(tmp_path / "data"),
        "PCFX_KAFKA_LIBS": str(libs_dir(Settings.from_env())),
        "PCFX_BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port()}",
        "PCFX_KAFKA_CONTROLLER_PORT": str(free_port()),
    }
    yield env
    stop_broker(Settings.from_env(env))


def pcfx(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """Run the real ``pcfx`` command in its own process, as a user would."""
    return subprocess.run(
        [sys.executable, "-m", "pcfx.cli", *args], env=os.environ | env, capture_output=True, text=True, timeout=240
    )


def test_start_is_idempotent_and_the_broker_outlives_the_command(own_broker):
    address = own_broker["PCFX_BOOTSTRAP_SERVERS"]
    first = pcfx(own_broker, "kafka", "start")
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith(f"kafka: started at {address} (pid ")
    pid = first.stdout.split("(pid ")[1].split(",")[0]

    again = pcfx(own_broker, "kafka", "start")
    assert (again.returncode, again.stdout) == (0, f"kafka: already running at {address} (pid {pid})\n")
    status = pcfx(own_broker, "kafka", "status")
    assert status.returncode == 0
    assert status.stdout.startswith(f"kafka: running at {address} (pid {pid}, data in ")


def test_stop_ends_the_broker_and_status_then_exits_3(own_broker):
    assert pcfx(own_broker, "kafka", "start").returncode == 0
    stopped = pcfx(own_broker, "kafka", "stop")
    assert stopped.returncode == 0
    assert stopped.stdout.startswith("kafka: stopped (pid ")

    status = pcfx(own_broker, "kafka", "status")
    address = own_broker["PCFX_BOOTSTRAP_SERVERS"]
    assert (status.returncode, status.stdout) == (3, f"kafka: not running (nothing answers at {address})\n")
    assert pcfx(own_broker, "kafka", "stop").stdout == "kafka: not running (nothing to stop)\n"


def test_started_broker_logs_to_its_data_dir_and_never_auto_creates_topics(own_broker):
    assert pcfx(own_broker, "kafka", "start").returncode == 0
    server_log = Path(own_broker["PCFX_DATA_DIR"]) / "kafka" / "logs" / "server.log"
    assert "Kafka Server started" in server_log.read_text()

    settings = Settings.from_env(own_broker)
    producer = KafkaProducer(bootstrap_servers=settings.bootstrap_servers, max_block_ms=3000)
    with pytest.raises(KafkaTimeoutError, match="Failed to update metadata"):
        producer.send("no-such-topic", value=b"12.5").get(timeout=10)
    producer.close()
    with admin_client(settings) as admin:
        assert "no-such-topic" not in admin.list_topics()


def test_a_message_produced_to_the_session_broker_is_consumed(settings):
    topic = settings.topic("footprints")
    producer = KafkaProducer(bootstrap_servers=settings.bootstrap_servers)
    producer.send(topic, key=b"product-1", value=b"12.5 kgCO2e").get(timeout=30)
    producer.close()
    consumer = KafkaConsumer(
        topic, bootstrap_servers=settings.bootstrap_servers, auto_offset_reset="earliest", consumer_timeout_ms=30_000
    )
    message = next(consumer)  # StopIteration if nothing arrives within consumer_timeout_ms
    consumer.close()
    assert (message.key, message.value) == (b"product-1", b"12.5 kgCO2e")


SESSION_PROBE = """
import os

def test_session_broker(kafka):
    with open(os.environ["PROBE_OUT"], "w") as out:
        out.write(kafka)
"""


def run_session_with(pytester: pytest.Pytester, env: dict[str, str], tmp_path: Path) -> tuple[str, list[Path]]:
    """Run a pytest session with our conftest and ``env``; return the bootstrap its ``kafka`` fixture gave and
    the broker dirs it left behind."""
    probe = tmp_path / f"bootstrap-{uuid.uuid4().hex}"
    pytester.makeconftest(CONFTEST.read_text())
    pytester.makepyfile(SESSION_PROBE)
    with pytest.MonkeyPatch.context() as patch:
        for name, value in (env | {"PROBE_OUT": str(probe)}).items():
            patch.setenv(name, value)
        result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider")
    assert result.ret == 0, result.stdout.str()
    leftovers = list((Path(env["PCFX_DATA_DIR"]) / "test-kafka").glob("session-*"))
    return probe.read_text(), leftovers


def not_told_to_reuse(user_bootstrap: str, tmp_path: Path) -> dict[str, str]:
    """A session's environment with the user's broker address set but no PCFX_TEST_BOOTSTRAP_SERVERS."""
    return {
        "PCFX_BOOTSTRAP_SERVERS": user_bootstrap,
        "PCFX_TEST_BOOTSTRAP_SERVERS": "",
        "PCFX_DATA_DIR": str(tmp_path / "data"),
        "PCFX_KAFKA_LIBS": str(libs_dir(Settings.from_env())),
    }


def test_session_fixture_reuses_a_broker_only_when_told_to(pytester, kafka, tmp_path):
    env = {"PCFX_TEST_BOOTSTRAP_SERVERS": kafka, "PCFX_DATA_DIR": str(tmp_path / "data")}
    bootstrap, leftovers = run_session_with(pytester, env, tmp_path)
    assert bootstrap == kafka
    assert not (tmp_path / "data" / "test-kafka").exists()  # nothing was started
    assert leftovers == []


def test_session_fixture_starts_its_own_broker_though_one_answers_at_the_users_address(pytester, kafka, tmp_path):
    """A broker answering at PCFX_BOOTSTRAP_SERVERS may be somebody else's (a shared machine): not reused."""
    bootstrap, leftovers = run_session_with(pytester, not_told_to_reuse(kafka, tmp_path), tmp_path)
    assert bootstrap.startswith("127.0.0.1:") and bootstrap != kafka
    assert leftovers == []
    assert not broker_answers(bootstrap)


def test_session_fixture_starts_a_broker_when_none_answers_and_removes_it(pytester, tmp_path, refused_address):
    nothing_there = refused_address
    bootstrap, leftovers = run_session_with(pytester, not_told_to_reuse(nothing_there, tmp_path), tmp_path)
    assert bootstrap.startswith("127.0.0.1:") and bootstrap != nothing_there
    assert leftovers == []  # its data dir is deleted at the end of that session
    assert not broker_answers(bootstrap)  # and the broker is stopped
