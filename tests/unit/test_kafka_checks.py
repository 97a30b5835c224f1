"""The Kafka launcher's checks and config, without starting a broker (tests/integration starts real ones)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from pcfx.ops.kafka import BrokerFiles, free_port, java_major_version, new_cluster_id, render_server_properties
from pcfx.ops.kafka_cli import kafka
from pcfx.settings import Settings


@pytest.fixture
def run(tmp_path: Path):
    """``run(args, path=...)``: ``pcfx kafka ...`` with a fresh data dir, an empty jar cache, ports free at the
    call (picked then, not at import: a broker another test starts could take a port picked long before) and
    ``PATH=path``."""

    def invoke(args: list[str], path: str, **env: str):
        variables = {
            "PATH": path,
            "PCFX_DATA_DIR": str(tmp_path / "data"),
            "PCFX_KAFKA_LIBS": str(tmp_path / "libs"),
            "PCFX_BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port()}",
            "PCFX_KAFKA_CONTROLLER_PORT": str(free_port()),
        }
        return CliRunner().invoke(kafka, args, env=variables | env)

    return invoke


def test_start_without_java_fails_with_one_line(run, tmp_path):
    result = run(["start"], path=str(tmp_path / "empty"))
    assert result.exit_code == 1
    assert result.output == "pcfx: Java 17+ is required to run the local Kafka broker (no `java` on PATH)\n"


def test_start_without_maven_fails_with_one_line(run, tmp_path):
    only_java = tmp_path / "bin"
    only_java.mkdir()
    (only_java / "java").symlink_to(shutil.which("java"))
    result = run(["start"], path=str(only_java))
    assert result.exit_code == 1
    assert result.output == "pcfx: Maven is required to fetch the Kafka jars from Maven Central (no `mvn` on PATH)\n"


def test_start_refuses_a_remote_bootstrap_server(run):
    result = run(["start"], path="", PCFX_BOOTSTRAP_SERVERS="kafka:29092")
    assert result.exit_code == 1
    assert "runs a broker on 127.0.0.1, but PCFX_BOOTSTRAP_SERVERS points at kafka" in result.output


def test_status_without_a_broker_says_so_and_exits_3(run, refused_address):
    result = run(["status"], path="", PCFX_BOOTSTRAP_SERVERS=refused_address)
    assert result.exit_code == 3
    assert result.output == f"kafka: not running (nothing answers at {refused_address})\n"


def test_stop_without_a_broker_is_fine(run, refused_address):
    result = run(["stop"], path="", PCFX_BOOTSTRAP_SERVERS=refused_address)
    assert result.exit_code == 0
    assert result.output == "kafka: not running (nothing to stop)\n"


def test_java_major_version_reads_old_and_new_formats():
    assert java_major_version('openjdk version "17.0.15" 2025-04-15') == 17
    assert java_major_version('java version "1.8.0_292"') == 8
    assert java_major_version('openjdk version "21" 2023-09-19') == 21


def test_server_properties_use_the_settings_ports_and_the_data_dir(tmp_path):
    settings = Settings.from_env({}, data_dir=tmp_path, bootstrap_servers="127.0.0.1:19500", kafka_controller_port=19501)
    text = render_server_properties(settings, BrokerFiles.of(settings))
    assert "listeners=PLAINTEXT://127.0.0.1:19500,CONTROLLER://127.0.0.1:19501\n" in text
    assert "controller.quorum.voters=1@127.0.0.1:19501\n" in text
    assert f"log.dirs={tmp_path / 'kafka' / 'data'}\n" in text
    assert "auto.create.topics.enable=false\n" in text


def test_cluster_ids_are_22_url_safe_characters_not_starting_with_a_dash():
    for _ in range(200):
        assert re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_-]{21}", new_cluster_id())
