"""The PACT v3 host of the exchange (``pcfx api``).

It serves the footprints the exchange holds over HTTPS with OAuth2 client credentials: Authenticate
(``/auth/token`` and OpenID discovery), ListFootprints, GetFootprint and Events. Its read model is a SQLite
database materialised from the ``footprints`` and ``derived`` topics; requests arriving as CloudEvents go
onto Kafka and are answered asynchronously by the responder.

Derived from the PACT Technical Specifications v3.0.3 (WBCSD); see ``openapi.yaml`` for the notice.
"""
