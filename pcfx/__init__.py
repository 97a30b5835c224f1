"""pcfx: an event-driven exchange for product carbon footprints (PACT v3) along supply chains.

Where a record enters, changes and leaves:
- ``pcfx.schemas``    the contract: Avro ``.avsc`` files and the pydantic models that enforce PACT rules;
- ``pcfx.streams``    codecs and the pure roll-up math (no Kafka, no Faust);
- ``pcfx.agents``     the Faust app: topics, tables and one agent per job;
- ``pcfx.connectors`` the edges: CLI, CSV, PACT HTTP host and client, webhooks;
- ``pcfx.ops``        the local Kafka launcher, Prometheus and Grafana files;
- ``pcfx.bench``      benchmarks that print figures.
"""

__version__ = "0.1.0"
