"""The topic catalogue on the real broker: `pcfx topics` creates it once, then finds it; buyer topics on demand."""

from __future__ import annotations

from click.testing import CliRunner

from pcfx.agents.topics import CATALOGUE, create_topics, describe_topics, ensure_buyer_topic
from pcfx.agents.topics_cli import topics as topics_command
from pcfx.settings import ENV_PREFIX, Settings


def env_of(settings: Settings) -> dict[str, str]:
    """The PCFX_* variables that make `pcfx topics` talk to the test's broker with the test's prefix."""
    names = ("bootstrap_servers", "topic_prefix", "partitions")
    return {ENV_PREFIX + name.upper(): str(getattr(settings, name)) for name in names}


def test_settings_fixture_created_every_catalogue_topic_as_documented(settings, topics):
    states = describe_topics(settings, list(topics.values()))
    described = {state.name: (state.partitions, state.configs["cleanup.policy"]) for state in states}
    assert described[topics["footprints"]] == (3, "compact")
    assert described[topics["graph-updates"]] == (1, "delete")
    assert described[topics["dlq.recipes"]] == (1, "delete")
    assert len(described) == len(CATALOGUE)


def test_creating_again_creates_nothing(settings):
    assert create_topics(settings) == []


def test_pcfx_topics_creates_then_finds(settings):
    fresh = settings.model_copy(update={"topic_prefix": settings.topic_prefix + "cli."})
    first = CliRunner().invoke(topics_command, [], env=env_of(fresh))
    assert first.exit_code == 0, first.output
    assert f"created {fresh.topic('footprints'):<40}partitions=3   cleanup=compact\n" in first.output
    assert f"created {fresh.topic('dlq.footprints'):<40}partitions=1   cleanup=delete retention=30 d\n" in first.output

    second = CliRunner().invoke(topics_command, [], env=env_of(fresh))
    assert second.exit_code == 0
    assert second.output.count("found   ") == len(CATALOGUE)


def test_pcfx_topics_fails_when_a_topic_differs_from_the_catalogue(settings):
    env = env_of(settings) | {"PCFX_PARTITIONS": "5"}
    result = CliRunner().invoke(topics_command, [], env=env)
    assert result.exit_code == 1
    assert f"{settings.topic('footprints')}" in result.output
    assert "DIFFERS: 3 partitions, catalogue says 5" in result.output


def test_buyer_topic_is_created_once_compacted_with_one_partition(settings):
    name = ensure_buyer_topic(settings, "urn:buyer:acme/eu")
    assert name == settings.topic("labels.buyer.urn_3abuyer_3aacme_2feu")
    assert ensure_buyer_topic(settings, "urn:buyer:acme/eu") == name
    (state,) = describe_topics(settings, [name])
    assert (state.partitions, state.configs["cleanup.policy"]) == (1, "compact")
