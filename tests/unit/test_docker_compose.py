"""docker-compose.yml checked against the settings, since no Docker engine runs here: every PCFX_* variable
it sets must exist and parse, its published ports must be the settings' defaults, and the Kafka listener
the pcfx services use must be one the kafka service advertises."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
import yaml

from pcfx.cli import COMMANDS
from pcfx.settings import ENV_PREFIX, Settings

ROOT = Path(__file__).resolve().parents[2]
PCFX_SERVICES = ("pcfx-topics", "pcfx-worker", "pcfx-api")
DEFAULTS = Settings.from_env({})


@pytest.fixture(scope="module")
def services() -> dict[str, dict]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]


def published(service: dict) -> dict[int, int]:
    """Container port -> host port of a service's ``ports: ["host:container"]``."""
    pairs = (entry.split(":") for entry in service.get("ports", []))
    return {int(container): int(host) for host, container in pairs}


def test_every_pcfx_variable_is_a_setting(services):
    known = {ENV_PREFIX + name.upper() for name in Settings.model_fields}
    for name in PCFX_SERVICES:
        assert set(services[name]["environment"]) <= known, name


def test_each_pcfx_service_environment_gives_valid_settings(services):
    for name in PCFX_SERVICES:
        settings = Settings.from_env(services[name]["environment"])
        assert settings.bootstrap_servers == "kafka:29092"


def test_pcfx_services_run_registered_commands_from_the_pcfx_image(services):
    for name in PCFX_SERVICES:
        service = services[name]
        program, command = service["command"]
        assert program == "pcfx"
        assert command in COMMANDS, f"{name} runs `pcfx {command}`, which pcfx/cli.py does not register"
        assert service["build"]["dockerfile"] == "ops/docker/Dockerfile"


def test_the_image_copies_every_package_folder():
    """A folder missing from the image would be an ImportError only inside the container."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    dockerfile = (ROOT / "ops/docker/Dockerfile").read_text()
    for folder in project["tool"]["setuptools"]["package-dir"].values():
        assert f"COPY {folder}/ {folder}/" in dockerfile, folder
    assert f"COPY pyproject.toml {project['project']['readme']} ./" in dockerfile


def test_api_is_published_on_the_default_api_port(services):
    api = services["pcfx-api"]
    port = Settings.from_env(api["environment"]).api_port
    assert port == DEFAULTS.api_port == 8443
    assert published(api) == {port: port}


def test_worker_web_is_published_on_the_default_worker_port(services):
    worker = services["pcfx-worker"]
    port = Settings.from_env(worker["environment"]).worker_web_port
    assert port == DEFAULTS.worker_web_port == 6066
    assert published(worker) == {port: port}


def test_prometheus_is_published_on_the_default_prometheus_port(services):
    assert published(services["prometheus"]) == {DEFAULTS.prometheus_port: DEFAULTS.prometheus_port}
    assert DEFAULTS.prometheus_port == 9090


def test_kafka_advertises_the_listener_the_pcfx_services_use(services):
    advertised = services["kafka"]["environment"]["KAFKA_ADVERTISED_LISTENERS"].split(",")
    addresses = {listener.split("://")[1] for listener in advertised}
    for name in PCFX_SERVICES:
        assert services[name]["environment"]["PCFX_BOOTSTRAP_SERVERS"] in addresses, name


def test_host_programs_with_default_settings_reach_the_kafka_service(services):
    kafka = services["kafka"]
    advertised = kafka["environment"]["KAFKA_ADVERTISED_LISTENERS"]
    assert f"://{DEFAULTS.bootstrap_servers}" in advertised
    assert published(kafka) == {DEFAULTS.kafka_port: DEFAULTS.kafka_port}


def test_kafka_is_the_official_image_in_kraft_mode(services):
    kafka = services["kafka"]
    assert kafka["image"] == "apache/kafka:4.1.1"
    assert kafka["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert kafka["environment"]["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"


def test_workers_and_api_wait_for_the_topics(services):
    for name in ("pcfx-worker", "pcfx-api"):
        assert services[name]["depends_on"] == {"pcfx-topics": {"condition": "service_completed_successfully"}}
    assert services["pcfx-topics"]["depends_on"] == {"kafka": {"condition": "service_healthy"}}


def test_mounted_monitoring_files_exist(services):
    mounts = services["prometheus"]["volumes"] + services["grafana"]["volumes"]
    local = [mount.split(":")[0] for mount in mounts if mount.startswith("./")]
    assert local == ["./ops/prometheus", "./ops/grafana/provisioning", "./ops/grafana/dashboards"]
    for path in local:
        assert (ROOT / path).is_dir(), path
    config = services["prometheus"]["command"][0].removeprefix("--config.file=/etc/prometheus/")
    assert (ROOT / "ops/prometheus" / config).is_file()
