"""Property-based API fuzzing: schemathesis generates requests (valid and invalid) from the OpenAPI the host
serves, and sends them over HTTPS with a valid token to the real host with Kafka behind it. Nothing a
client sends may produce a 5xx or show a footprint its company was not granted, and every answer to a
schema-valid request must match what the document promises.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from typing import Any

import httpx
import pytest
import schemathesis
import yaml
from hypothesis import HealthCheck, given, settings
from pact_host import Receiver, isolated_settings, pact_host, publish, reference_footprints, wait_for
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from schemathesis import APIOperation, GenerationMode

from pcfx.connectors.pact_api.auth import Callback
from pcfx.connectors.pact_api.tls import certificate_files

EXAMPLES = 100  # generated requests per operation and mode (hypothesis stops earlier when it runs out of new ones)
CLIENT = ("fuzzer", "urn:pact:fuzz.example:company-id:1")


@dataclass
class Target:
    base: str
    cert: str
    token: str
    document: dict[str, Any]
    granted: str  # the one owner company whose footprints the fuzzing client may see


@pytest.fixture(scope="module")
def target(kafka: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    folder = tmp_path_factory.mktemp("fuzz")
    seeded = reference_footprints()[:5]
    with isolated_settings(kafka, folder) as config, pact_host(config) as host:
        callback = Callback(Receiver(folder).url, "id", "secret", verify_tls=False)  # never reached: sources are random
        secret = host.clients.add(*CLIENT, callback=callback)
        host.readmodel.grant(CLIENT[1], owner_company=seeded[0]["companyIds"][0])
        publish(config, seeded)
        wait_for(lambda: host.readmodel.count() == len(seeded), "the seed")
        cert = str(certificate_files(config)[0])
        base = f"https://127.0.0.1:{config.api_port}"
        with httpx.Client(base_url=base, verify=ssl.create_default_context(cafile=cert)) as http:
            token = http.post("/auth/token", data={"grant_type": "client_credentials"}, auth=(CLIENT[0], secret)).json()["access_token"]
            document = yaml.safe_load(http.get("/openapi.yaml").text)
        yield Target(base, cert, token, document, seeded[0]["companyIds"][0])


DOCUMENT = yaml.safe_load(resources.files("pcfx.connectors.pact_api").joinpath("openapi.yaml").read_text())
OPERATIONS = [result.ok() for result in schemathesis.openapi.from_dict(DOCUMENT).get_all_operations()]
CASES = [(operation, mode) for operation in OPERATIONS for mode in GenerationMode
         if mode is GenerationMode.POSITIVE or operation.query or operation.path_parameters or operation.body]
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def test_the_served_document_is_the_one_fuzzed(target):
    assert target.document == DOCUMENT


@pytest.mark.parametrize(("operation", "mode"), CASES, ids=[f"{o.label} {m.value}" for o, m in CASES])
def test_no_request_gets_a_server_error(operation: APIOperation, mode: GenerationMode, target: Target) -> None:
    """Schema-valid (positive) and schema-breaking (negative) requests alike get a 2xx or a 4xx; negative
    requests need something to break, so operations without parameters or body get positive ones only."""
    headers = None if operation.path == "/auth/token" else {"Authorization": f"Bearer {target.token}"}

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    def send(case: schemathesis.Case) -> None:
        response = case.call(base_url=target.base, headers=headers, verify=target.cert)
        assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.status_code} {response.text[:500]}"
        if response.status_code == 200 and case.path.startswith("/3/footprints"):
            data = response.json()["data"]
            assert all(target.granted in pf["companyIds"] for pf in (data if isinstance(data, list) else [data]))
        if mode is GenerationMode.POSITIVE:
            case.validate_response(response, checks=CHECKS)

    send()
