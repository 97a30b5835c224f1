"""The Prometheus configuration and alert rules pass Prometheus's own checker and rule unit tests.

``ensure_prometheus`` installs Debian's package when it is missing, so this never skips.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from pcfx.ops.prometheus import CONFIG_DIR, command, ensure_prometheus, promtool
from pcfx.settings import Settings


def run_promtool(*args: str | Path) -> subprocess.CompletedProcess:
    done = subprocess.run([str(promtool()), *map(str, args)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def test_prometheus_and_promtool_are_installed():
    assert ensure_prometheus().exists()
    assert promtool().exists()


@pytest.mark.parametrize("name", ["prometheus.yml", "prometheus.docker.yml"])
def test_checked_in_config_is_valid(name):
    done = run_promtool("check", "config", CONFIG_DIR / name)
    assert "SUCCESS: 1 rule files found" in done.stdout


def test_config_written_for_a_local_run_is_valid(tmp_path):
    """The runtime config points at the packaged rules by absolute path, from the data dir."""
    settings = Settings.from_env({}, data_dir=tmp_path)
    config = Path(command(settings, workers=3)[1].removeprefix("--config.file="))
    assert config.parent == tmp_path / "prometheus"
    run_promtool("check", "config", config)


def test_alert_rules_are_valid():
    done = run_promtool("check", "rules", CONFIG_DIR / "rules" / "pcfx-alerts.yml")
    assert "SUCCESS: 12 rules found" in done.stdout  # 4 recording rules + 8 alerts


def test_alert_rule_unit_tests_pass():
    done = run_promtool("test", "rules", CONFIG_DIR / "tests" / "pcfx-alerts.test.yml")
    assert "SUCCESS" in done.stdout
