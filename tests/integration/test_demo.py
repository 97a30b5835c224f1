"""`pcfx demo --check`: the README's main job, run as a user runs it, against the real broker."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from pcfx.agents.topics import admin_client
from pcfx.settings import Settings


def test_demo_check_sees_the_buyer_label_change_to_the_independently_solved_value(settings: Settings) -> None:
    env = {**os.environ, **settings.to_env()}
    result = subprocess.run([sys.executable, "-m", "pcfx.cli", "demo", "--check"], env=env, capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    # By hand, kgCO2e per piece (demo_chain.py and the SAMPLE database):
    # cathode 6.0 + 25 x 0.618 = 21.45; cell 0.12 + 0.021 x 21.45 + 0.35 x 0.618 = 0.78675;
    # pack 1.2 + 52 x 0.78675 + 0.6 x 16.4 + 2.5 x 0.652 = 53.581; frame 0.8 + 3.4 x 2.05 + 0.7 x 16.4 + 4 x 0.652 = 21.858;
    # e-bike 5.0 + 21.858 + 53.581 + 6 x 0.652 = 84.351. The cleaner cathode: 3.5 + 20 x 0.618 = 15.86, so
    # cell 0.66936, pack 47.47672 and e-bike 78.24672.
    # The stream solves incrementally, so the last float bits may differ from a whole solve: compare to 1e-9.
    before, after = (float(v) for v in re.findall(r"label v\d+: ([0-9.]+) kgCO2e", result.stdout))
    assert before == pytest.approx(84.351, rel=1e-9)
    assert after == pytest.approx(78.24672, rel=1e-9)
    assert ": right" in result.stdout
    web = re.search(r"web app: (https://127\.0\.0\.1:\d+/web/) .* client id demo-buyer and secret (\S+)", result.stdout)
    assert web is not None, result.stdout  # printed before the scenario plays, while the pages are up
    # the run's topics (its prefix, and its worker's changelogs under its app id) are gone afterwards
    deleted = re.search(r"deleted this run's (\d+) topics \((\S+)\*, (\S+)\*\)", result.stdout)
    assert deleted is not None, result.stdout
    count, prefix, app_topics = deleted.groups()
    assert int(count) >= 30
    with admin_client(settings) as admin:
        assert [t for t in admin.list_topics() if t.startswith(prefix) or t.startswith(app_topics)] == []
    # issue 17.3: the demo keeps its own state; the real API's database is not touched (here: never created)
    assert not (settings.data_dir / "api").exists()
    [run] = (settings.data_dir / "demo").iterdir()
    assert (run / "api" / "readmodel.sqlite").exists() and (run / "worker.log").exists()
