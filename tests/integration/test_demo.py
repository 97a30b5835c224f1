"""`pcfx demo --check`: the README's main job, run as a user runs it, against the real broker."""

from __future__ import annotations

import os
import subprocess
import sys

from pcfx.settings import Settings


def test_demo_check_sees_the_buyer_label_change_to_the_independently_solved_value(settings: Settings) -> None:
    env = {**os.environ, **settings.to_env()}
    result = subprocess.run([sys.executable, "-m", "pcfx.cli", "demo", "--check"], env=env, capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "label v1: 84.351 kgCO2e per piece" in result.stdout  # the SAMPLE chain, solved by hand in demo_chain
    assert ": right" in result.stdout
