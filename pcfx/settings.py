"""One settings object for every pcfx process, read from ``PCFX_*`` environment variables.

The README's settings table is generated from :data:`Settings.model_fields` descriptions, so the two
cannot drift: ``pcfx settings`` prints the current values and where each came from.
"""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

ENV_PREFIX = "PCFX_"


class SettingsError(ValueError):
    """A ``PCFX_*`` variable holds a value pcfx cannot use; the message names the variable and the value."""


class Settings(BaseModel):
    """Process-wide configuration. Every field maps to ``PCFX_<FIELD NAME IN UPPER CASE>``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    bootstrap_servers: str = Field(
        "127.0.0.1:9092", description="Kafka bootstrap servers, comma separated host:port."
    )
    data_dir: Path = Field(
        Path.home() / ".pcfx",
        description="Where pcfx keeps local state: Kafka jars and logs, worker tables, the API database, TLS files.",
    )
    topic_prefix: str = Field(
        "pcfx.", description="Prefix of every topic name; tests isolate themselves with a unique prefix."
    )
    partitions: int = Field(
        6, ge=1, description="Partitions of each keyed input topic created by `pcfx topics`, and shards of the recompute "
        "(`recompute-steps`): the most workers that share the recompute.",
    )
    standby_replicas: int = Field(
        0, ge=0, description="Standby copies of each worker's tables kept up to date by the other workers. 0: a worker "
        "that takes over a shard reads its changelog then (slower failover) instead of every worker replaying every "
        "other's tables all the time (docs/benchmarks.md, Scale-out).",
    )
    replication_factor: int = Field(1, ge=1, description="Replication factor of created topics (1 for the local broker).")
    kafka_controller_port: int = Field(
        9093, description="KRaft controller port of the local broker started by `pcfx kafka start`."
    )
    kafka_heap: str = Field("768m", description="Java heap (-Xmx) of the local broker.")
    kafka_libs: str = Field(
        "",
        description="Directory of the local broker's jars, resolved by Maven on first start; empty: `<data dir>/kafka-libs`. "
        "Point several data dirs at one directory to resolve the jars once.",
    )
    app_id: str = Field("pcfx", description="Faust application id (consumer group and changelog topic prefix).")
    store: str = Field(
        "memory://", description="Faust table store: `memory://`, or `rocksdb://` for tables larger than memory."
    )
    bind_host: str = Field(
        "127.0.0.1",
        description="Interface the worker web server and /metrics endpoints bind to (0.0.0.0 in containers).",
    )
    worker_session_timeout_s: float = Field(
        60.0,
        ge=6,
        description="How long Kafka waits for a silent worker before moving its partitions to the others, in seconds: "
        "a crashed worker's share resumes elsewhere (or on its restart) after this.",
    )
    worker_stop_timeout_s: float = Field(
        30.0,
        gt=0,
        description="Longest a worker spends stopping cleanly after SIGTERM/SIGINT before it exits anyway (exit code 75), "
        "in seconds; a second signal exits at once. Nothing is lost either way: a restart resumes from Kafka.",
    )
    worker_web_port: int = Field(6066, description="Port of the worker's web server, which serves /metrics.")
    api_host: str = Field("127.0.0.1", description="Interface the PACT API binds to.")
    api_port: int = Field(8443, description="HTTPS port of the PACT v3 API (`pcfx api`).")
    api_public_url: str = Field(
        "", description="Base URL clients use to reach the API (OpenID document, pagination links, CloudEvent sources); "
        "empty: `https://<PCFX_API_HOST>:<PCFX_API_PORT>` (never the request's Host header)."
    )
    tls_cert: str = Field("", description="PEM certificate for the API; empty: a self-signed one in the data dir.")
    tls_key: str = Field("", description="PEM private key matching PCFX_TLS_CERT.")
    token_ttl_s: int = Field(3600, ge=60, description="Lifetime of API access tokens, in seconds.")
    metrics_port: int = Field(
        9464, description="Port of /metrics for processes without a web server of their own (connectors, CLI loops)."
    )
    api_metrics_port: int = Field(
        9465, description="Plain-HTTP port of the API process's /metrics, kept off the partner-facing HTTPS port."
    )
    prometheus_port: int = Field(9090, description="Port of the Prometheus started by `pcfx ops prometheus`.")
    batch_max: int = Field(10_000, ge=1, description="Most updates the recompute agent folds into one micro-batch.")
    batch_within_s: float = Field(
        0.02, gt=0, description="Longest the recompute agent waits to fill a micro-batch, in seconds."
    )
    producer_batch_bytes: int = Field(
        1_000_000, ge=16_384,
        description="Largest batch the worker sends to one partition in one produce request, in bytes; at most the "
        "broker's `message.max.bytes` (1 MiB unless changed).",
    )
    webhook_max_age_s: int = Field(
        72 * 3600, description="How long a webhook delivery is retried before it is abandoned, in seconds (PACT: 72 h)."
    )
    webhook_allow: str = Field(
        "",
        description="Webhook targets allowed beyond https URLs of public addresses: comma-separated host names, IP "
        "addresses or CIDR networks (e.g. `127.0.0.1,10.0.0.0/8`), which may also use http. Empty: none.",
    )
    label_expiry_check_s: float = Field(
        60.0, gt=0, description="How often the worker looks for carbon labels and supplier footprints past their validity end, in seconds "
        "(an expired supplier footprint no longer counts in roll-ups)."
    )

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: object) -> "Settings":
        """Build settings from ``PCFX_*`` variables; explicit ``overrides`` win over the environment."""
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for name in cls.model_fields:
            key = ENV_PREFIX + name.upper()
            if key in env:
                values[name] = env[key]
        values.update(overrides)
        try:
            return cls(**values)
        except ValidationError as error:
            raise SettingsError("; ".join(
                f"{ENV_PREFIX}{'.'.join(str(part) for part in e['loc']).upper()} = {e.get('input')!r}: {e['msg']}"
                for e in error.errors()
            )) from None

    @cached_property
    def kafka_port(self) -> int:
        """Port of the first bootstrap server: the local broker listens there."""
        first = self.bootstrap_servers.split(",")[0]
        return int(first.rsplit(":", 1)[1])

    def api_base_url(self) -> str:
        """Base URL of this exchange's PACT host as partners reach it: PCFX_API_PUBLIC_URL, else the configured
        interface and port (what a document names when no request tells the Host header)."""
        return self.api_public_url.rstrip("/") or f"https://{self.api_host}:{self.api_port}"

    def topic(self, name: str) -> str:
        """Full topic name for a logical name, e.g. ``topic("footprints")`` -> ``pcfx.footprints``."""
        return f"{self.topic_prefix}{name}"

    def to_env(self) -> dict[str, str]:
        """These settings as ``PCFX_*`` variables, to start another pcfx process with the same configuration."""
        return {ENV_PREFIX + name.upper(): str(getattr(self, name)) for name in type(self).model_fields}

    def env_table(self) -> list[tuple[str, str, str]]:
        """(variable, default, description) rows for the README table."""
        rows = []
        for name, field in type(self).model_fields.items():
            default = field.default
            if name == "data_dir":
                default = "~/.pcfx"
            rows.append((ENV_PREFIX + name.upper(), str(default), field.description or ""))
        return rows
