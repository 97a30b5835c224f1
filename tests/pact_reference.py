"""Where the PACT reference files live: the project's ``shared/reference/pact`` beside the checkout.

CI clones the repo with ``shared/`` next to it, as on a developer's machine; ``PCFX_PACT_REFERENCE``
points elsewhere. The WBCSD files may not be copied into the repo (non-commercial licence), so they
are read in place.
"""

import os
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACT = Path(os.environ.get("PCFX_PACT_REFERENCE", REPO.parent / "shared" / "reference" / "pact"))
EXAMPLES = PACT / "examples"
OPENAPI_303 = PACT / "openapi" / "pact-openapi-3.0.3.yaml"
