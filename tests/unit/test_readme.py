"""The README documents what the code has: every setting, every topic, and the test command CI runs."""

from __future__ import annotations

from pathlib import Path

from pcfx.agents.topics import CATALOGUE
from pcfx.settings import Settings

REPO = Path(__file__).resolve().parents[2]
README = (REPO / "README.md").read_text(encoding="utf-8")
TEST_COMMAND = "python3 -m venv .venv && . .venv/bin/activate && pip install -e '.[test]' && python -m pytest -q"


def test_every_setting_is_in_the_readme_table() -> None:
    for variable, _default, _meaning in Settings.from_env({}).env_table():
        assert f"| `{variable}` |" in README, variable


def test_every_topic_is_in_the_readme_table() -> None:
    for spec in CATALOGUE:
        assert f"| `{spec.name}` |" in README, spec.name


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    assert TEST_COMMAND in README
    assert TEST_COMMAND in (REPO / ".ci" / "run").read_text(encoding="utf-8")
