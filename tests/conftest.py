"""Root fixtures: the real Kafka broker, and settings that isolate each test on it by topic prefix.

``kafka`` (session) is the bootstrap string of a real Apache Kafka: a broker the launcher starts for this
session (and stops at its end) in ``<PCFX_DATA_DIR>/test-kafka/session-*``, reusing the Maven jar cache of
PCFX_DATA_DIR / PCFX_KAFKA_LIBS. A broker that merely answers at PCFX_BOOTSTRAP_SERVERS is not the tests' to
use (on a shared machine it is somebody else's); only an explicit ``PCFX_TEST_BOOTSTRAP_SERVERS=host:port``
makes the session reuse that broker instead, and it must answer. There is no skip: a broker that cannot
start fails every test that needs it, with the reason.

``settings`` gives each test its own topic prefix and app id, its own data dir and free ports, and all
catalogue topics already created; they are deleted again afterwards. Tests that use ``kafka`` (directly or
through ``settings``/``topics``) are marked ``kafka``; tests under ``tests/unit`` may not use it.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from pcfx.ops.kafka import BrokerFiles, LauncherError, broker_answers, ensure_broker, free_port, libs_dir, stop_broker
from pcfx.settings import Settings

pytest_plugins = ["pytester"]  # tests/integration runs whole sessions with this file to check `kafka`

UNIT_TESTS = Path(__file__).parent / "unit"
UNKNOWN_TOPIC_OR_PARTITION = 3  # Kafka error code of a topic that is already gone


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "kafka" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.kafka)


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.path.is_relative_to(UNIT_TESTS) and "kafka" in getattr(item, "fixturenames", ()):
        pytest.fail(f"{item.nodeid} uses Kafka; unit tests must not, move it to tests/integration", pytrace=False)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    """A failed test that ran ``pcfx worker`` processes (their logs are ``*.log`` in its ``tmp_path``) or the
    session's own broker gets their last lines in its report: CI's clone, and with it every log, is gone after."""
    outcome = yield
    report = outcome.get_result()
    if report.when != "call" or not report.failed:
        return
    tmp_path = getattr(item, "funcargs", {}).get("tmp_path")
    for log in sorted(tmp_path.glob("*.log")) if isinstance(tmp_path, Path) else ():
        report.sections.append((f"{log.name} (last {LOG_TAIL_LINES} lines)", _tail(log.read_text(errors="replace"))))
    if _session_broker_log is not None and _session_broker_log.exists():
        problems = [line for line in _session_broker_log.read_text(errors="replace").splitlines()
                    if line.split("] ", 1)[-1].startswith(("WARN", "ERROR"))]
        report.sections.append((f"broker WARN/ERROR lines (last {LOG_TAIL_LINES})", _tail("\n".join(problems))))


LOG_TAIL_LINES = 40
_session_broker_log: Path | None = None  # server.log of the broker this session started (None: reused broker)


def _tail(text: str) -> str:
    return "\n".join(text.splitlines()[-LOG_TAIL_LINES:])


REUSE_VARIABLE = "PCFX_TEST_BOOTSTRAP_SERVERS"


def broker_to_reuse(environ: Mapping[str, str]) -> str | None:
    """The broker a test session was explicitly told to reuse, or None to start its own."""
    return environ.get(REUSE_VARIABLE, "").strip() or None


@pytest.fixture(scope="session")
def kafka() -> Iterator[str]:
    """Bootstrap servers of a real broker for this test session."""
    user = Settings.from_env()
    reuse = broker_to_reuse(os.environ)
    if reuse is not None:
        if not broker_answers(reuse):
            pytest.fail(f"{REUSE_VARIABLE}={reuse}: no Kafka broker answers there", pytrace=False)
        yield reuse
        return
    sessions = user.data_dir / "test-kafka"
    sessions.mkdir(parents=True, exist_ok=True)
    own = Settings.from_env(
        data_dir=Path(tempfile.mkdtemp(prefix="session-", dir=sessions)),
        kafka_libs=str(libs_dir(user)),
        bootstrap_servers=f"127.0.0.1:{free_port()}",
        kafka_controller_port=free_port(),
    )
    try:
        broker = ensure_broker(own)
    except LauncherError as err:
        pytest.fail(f"the test Kafka broker did not start (files in {own.data_dir}):\n{err}", pytrace=False)
    global _session_broker_log  # noqa: PLW0603  (read by the report hook above)
    _session_broker_log = BrokerFiles.of(own).server_log
    yield broker.bootstrap_servers
    _session_broker_log = None
    stop_broker(own)
    shutil.rmtree(own.data_dir)


@pytest.fixture
def refused_address() -> Iterator[str]:
    """``127.0.0.1:<port>`` where connecting is refused for the whole test: the port is bound but never listens.

    A port that is merely free when picked can be taken later by a broker another test starts, so it is held.
    """
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        yield f"127.0.0.1:{holder.getsockname()[1]}"


@pytest.fixture
def settings(kafka: str, tmp_path: Path) -> Iterator[Settings]:
    """Settings for one test: a unique topic prefix (so its topics are its own), with every topic created."""
    from pcfx.agents.topics import create_topics

    prefix = f"t{uuid.uuid4().hex[:12]}."
    isolated = Settings.from_env(
        bootstrap_servers=kafka,
        topic_prefix=prefix,
        app_id=f"{prefix}app",  # Faust's consumer group and internal topics carry the prefix too
        data_dir=tmp_path,
        partitions=3,
        worker_web_port=free_port(),
        api_port=free_port(),
        api_metrics_port=free_port(),
        metrics_port=free_port(),
        prometheus_port=free_port(),
        webhook_allow="127.0.0.1",  # the tests' webhook receivers listen on loopback (an operator's allow-list)
    )
    create_topics(isolated)
    yield isolated
    _delete_topics_with_prefix(isolated)


@pytest.fixture
def topics(settings: Settings) -> dict[str, str]:
    """Logical topic name -> full topic name of this test, e.g. ``topics["footprints"]``."""
    from pcfx.agents.topics import CATALOGUE

    return {entry.name: settings.topic(entry.name) for entry in CATALOGUE}


def _delete_topics_with_prefix(settings: Settings) -> None:
    """Drop every topic the test made (catalogue, buyer and Faust topics), so a reused broker stays small."""
    from kafka.errors import for_code

    from pcfx.agents.topics import admin_client

    with admin_client(settings) as admin:
        mine = [name for name in admin.list_topics() if name.startswith(settings.topic_prefix)]
        if not mine:
            return
        for outcome in admin.delete_topics(mine, raise_errors=False)["topics"]:
            if outcome["error_code"] not in (0, UNKNOWN_TOPIC_OR_PARTITION):
                raise for_code(outcome["error_code"])(f"cannot delete test topic {outcome['name']}")
