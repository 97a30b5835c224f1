"""The web app: pages where a buyer follows its carbon labels live and a supplier sees what it published.

It is served by the PACT host's own ASGI app (under ``/web``), over the same TLS, from the same SQLite
read model the host's Kafka followers keep current; nothing on a page loads from outside the host.
"""
