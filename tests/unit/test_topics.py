"""The topic catalogue without a broker: policies, partitions, dead-letter topics and buyer topic names."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from pcfx.agents.topics import (
    BUYER_LABELS,
    CATALOGUE,
    INPUTS,
    INTERNAL,
    TopicState,
    buyer_topic_name,
    differences,
    ensure_buyer_topic,
    spec,
)
from pcfx.agents.topics_cli import topics
from pcfx.settings import Settings

SETTINGS = Settings.from_env({}, partitions=4, topic_prefix="test.")


def test_topics_holding_latest_state_per_key_are_compacted():
    for name in ("footprints", "recipes", "derived", "labels", "subscriptions"):
        assert spec(name).cleanup == "compact", name
    assert BUYER_LABELS.cleanup == "compact"


def test_event_streams_and_dead_letters_are_deleted_after_their_retention():
    for name in ("graph-updates", "requests", "responses", "dlq.footprints"):
        assert spec(name).cleanup == "delete", name
        assert spec(name).retention_days is not None, name


def test_every_input_topic_has_a_dead_letter_topic():
    assert {entry.name for entry in INPUTS} == {"footprints", "recipes", "requests", "subscriptions", "entitlements"}
    for entry in INPUTS:
        dead = spec(f"dlq.{entry.name}")
        assert (dead.value, dead.partitions, dead.cleanup, dead.retention_days) == ("DeadLetter", 1, "delete", 30)


def test_every_internal_topic_an_agent_reads_has_a_dead_letter_topic_for_what_it_cannot_read():
    assert {entry.name for entry in INTERNAL} == {"label-sources", "label-inputs", "labels", "webhook-attempts"}
    for entry in INTERNAL:
        assert spec(f"dlq.{entry.name}").why.startswith(f"Records from `{entry.name}` that its agent could not read")


def test_keyed_topics_follow_the_partitions_setting_and_graph_updates_has_one():
    assert spec("footprints").partition_count(SETTINGS) == 4
    assert spec("labels").partition_count(SETTINGS) == 4
    assert spec("graph-updates").partition_count(SETTINGS) == 1


def test_topic_configs_carry_policy_and_retention_in_milliseconds():
    assert spec("graph-updates").configs() == {"cleanup.policy": "delete", "retention.ms": str(7 * 24 * 3600 * 1000)}
    assert spec("dlq.recipes").configs()["retention.ms"] == str(30 * 24 * 3600 * 1000)
    assert spec("footprints").configs() == {"cleanup.policy": "compact"}


def test_catalogue_names_are_unique_and_valid_kafka_names():
    names = [entry.name for entry in CATALOGUE]
    assert len(names) == len(set(names))
    assert all(re.fullmatch(r"[a-z.-]+", name) for name in names)


def test_unknown_logical_name_is_an_error_naming_it():
    with pytest.raises(KeyError, match="'footprint' is not in the topic catalogue"):
        spec("footprint")


def test_buyer_topic_escapes_everything_but_letters_digits_and_dash():
    assert buyer_topic_name("acme-eu") == "labels.buyer.acme-eu"
    assert buyer_topic_name("acme/eu") == "labels.buyer.acme_2feu"
    assert buyer_topic_name("acme_eu") == "labels.buyer.acme_5feu"
    assert buyer_topic_name("acme.eu") == "labels.buyer.acme_2eeu"
    assert buyer_topic_name("Müller") == "labels.buyer.M_c3_bcller"


@given(st.text(min_size=1), st.text(min_size=1))
def test_distinct_buyers_get_distinct_valid_topics(first, second):
    name = buyer_topic_name(first)
    assert re.fullmatch(r"labels\.buyer\.[A-Za-z0-9_-]+", name)
    assert (name == buyer_topic_name(second)) == (first == second)


def test_empty_buyer_id_is_refused():
    with pytest.raises(ValueError, match="buyer id is empty"):
        buyer_topic_name("")


def test_buyer_topic_longer_than_kafka_allows_is_refused_before_any_broker_call():
    with pytest.raises(ValueError, match="longer than 249"):
        ensure_buyer_topic(SETTINGS, "x" * 240)


def test_differences_name_each_mismatch():
    footprints = spec("footprints")
    matching = TopicState("test.footprints", 4, {"cleanup.policy": "compact"})
    auto_created = TopicState("test.footprints", 1, {"cleanup.policy": "delete", "retention.ms": "604800000"})
    assert differences(footprints, matching, SETTINGS) == []
    assert differences(footprints, auto_created, SETTINGS) == [
        "1 partitions, catalogue says 4",
        "cleanup.policy=delete, catalogue says compact",
    ]


def test_list_prints_the_catalogue_table_without_a_broker():
    result = CliRunner().invoke(topics, ["--list"], env={"PCFX_BOOTSTRAP_SERVERS": "127.0.0.1:1"})
    assert result.exit_code == 0
    rows = [line for line in result.output.splitlines() if line.startswith("| `")]
    assert len(rows) == len(CATALOGUE) + 1
    assert "| `footprints` | publisher id + product id (partitioned by product id) | ProductFootprint | PCFX_PARTITIONS | compact |" in result.output
    assert "| `dlq.footprints` | original key | DeadLetter | 1 | delete, 30 d |" in result.output


def test_a_suppliers_request_topic_is_named_like_a_buyers_label_topic():
    from pcfx.agents.topics import supplier_topic_name

    assert supplier_topic_name("urn:pact:ore.example:company-id:3") == "requests.supplier.urn_3apact_3aore_2eexample_3acompany-id_3a3"
