"""The PACT test fixtures the repository carries: ``tests/fixtures/pact`` (provenance and licences in its README).

Everything a test reads is inside the checkout: the conformance service's OpenAPI and the multi-tier samples
are MIT-licensed and vendored with their licence; the v3 and v2.3 example footprints are pcfx's own.
"""

from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACT = REPO / "tests" / "fixtures" / "pact"
EXAMPLES = PACT
OPENAPI = PACT / "openapi" / "pact-openapi-3.0.4-conformance-service.yaml"
