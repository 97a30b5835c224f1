"""ops/prometheus.py: the scrape configuration follows the settings, and the checked-in files are its
output for the default settings."""

from __future__ import annotations

import os

import yaml

from pcfx.ops.prometheus import CONFIG_DIR, docker_config, local_config, running_pid
from pcfx.settings import Settings


def targets(config: dict) -> dict[str, list[str]]:
    return {
        job["job_name"]: [t for static in job.get("static_configs", []) for t in static["targets"]]
        for job in config["scrape_configs"]
    }


def test_workers_are_scraped_on_consecutive_web_ports():
    settings = Settings.from_env({}, worker_web_port=7000, api_metrics_port=7100, metrics_port=7200)
    assert targets(local_config(settings, workers=3)) == {
        "pcfx-worker": ["127.0.0.1:7000", "127.0.0.1:7001", "127.0.0.1:7002"],
        "pcfx-api": ["127.0.0.1:7100"],
        "pcfx-connectors": ["127.0.0.1:7200"],
    }


def test_docker_finds_every_worker_replica_by_dns():
    config = docker_config(Settings.from_env({}))
    worker = next(job for job in config["scrape_configs"] if job["job_name"] == "pcfx-worker")
    assert worker["dns_sd_configs"] == [{"names": ["pcfx-worker"], "type": "A", "port": 6066}]
    assert targets(config)["pcfx-api"] == ["pcfx-api:9465"]


def test_checked_in_configs_are_the_generated_ones():
    defaults = Settings.from_env({})
    checked_in = yaml.safe_load((CONFIG_DIR / "prometheus.yml").read_text())
    assert checked_in == local_config(defaults, workers=2)
    checked_in_docker = yaml.safe_load((CONFIG_DIR / "prometheus.docker.yml").read_text())
    assert checked_in_docker == docker_config(defaults)


def test_rules_are_loaded_relative_to_the_config():
    assert local_config(Settings.from_env({}))["rule_files"] == ["rules/*.yml"]
    assert (CONFIG_DIR / "rules" / "pcfx-alerts.yml").exists()


def test_a_pid_file_naming_another_program_is_not_a_running_prometheus(tmp_path):
    settings = Settings.from_env({}, data_dir=tmp_path)
    (tmp_path / "prometheus").mkdir()
    (tmp_path / "prometheus" / "prometheus.pid").write_text(str(os.getpid()))  # pytest, not prometheus
    assert running_pid(settings) is None


def test_no_pid_file_means_not_running(tmp_path):
    assert running_pid(Settings.from_env({}, data_dir=tmp_path)) is None
