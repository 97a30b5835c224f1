"""The ``pcfx`` command. Each subcommand lives beside the code it drives and is imported only when run,
so ``pcfx --help`` stays fast and a command's heavy imports (Faust, scipy) cost nothing elsewhere."""

from __future__ import annotations

import importlib

import click

# name -> "module:attribute" of a click command. Keep sorted by name.
COMMANDS: dict[str, str] = {
    "api": "pcfx.connectors.pact_api.api_cli:api",
    "background": "pcfx.connectors.background_cli:background",
    "bench": "pcfx.bench.bench_cli:bench",
    "clients": "pcfx.connectors.pact_api.clients_cli:clients",
    "compute": "pcfx.connectors.compute_cli:compute",
    "entitle": "pcfx.connectors.subscribe_cli:entitle",
    "demo": "pcfx.connectors.demo_cli:demo",
    "footprints": "pcfx.connectors.footprints_cli:footprints",
    "import": "pcfx.connectors.import_cli:import_csv",
    "kafka": "pcfx.ops.kafka_cli:kafka",
    "ops": "pcfx.ops.prometheus_cli:ops",
    "partners": "pcfx.connectors.partners:partners",
    "publish": "pcfx.connectors.publish_cli:publish",
    "pull": "pcfx.connectors.pull_cli:pull",
    "settings": "pcfx.cli_settings:settings",
    "subscribe": "pcfx.connectors.subscribe_cli:subscribe",
    "topics": "pcfx.agents.topics_cli:topics",
    "watch": "pcfx.connectors.watch_cli:watch",
    "web": "pcfx.connectors.web.web_cli:web",
    "worker": "pcfx.agents.worker_cli:worker",
}


class LazyGroup(click.Group):
    """A click group that imports a subcommand's module on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        target = COMMANDS.get(name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        return getattr(importlib.import_module(module_name), attr)

    def invoke(self, ctx: click.Context) -> object:
        """An unusable setting or an unreachable broker ends any command with one line that says what to do,
        never a traceback."""
        from pcfx.settings import SettingsError  # noqa: PLC0415

        try:
            return super().invoke(ctx)
        except SettingsError as error:
            raise click.ClickException(str(error)) from None
        except ConnectionError as error:
            from pcfx.ops.kafka import BrokerUnreachable  # noqa: PLC0415

            if isinstance(error, BrokerUnreachable):
                raise click.ClickException(str(error)) from None
            raise


@click.group(cls=LazyGroup)
@click.version_option(package_name="pcfx")
def main() -> None:
    """pcfx: live product carbon footprints along supply chains (PACT v3 over Kafka)."""


if __name__ == "__main__":  # pragma: no cover
    main()
