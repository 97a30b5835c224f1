"""The worker's web server (/metrics) listens only on PCFX_BIND_HOST: Faust's ``web_host`` is just the host it
advertises, ``web_bind`` is where it listens, and Faust's default for the latter is every interface."""

from __future__ import annotations

import socket
import time
import urllib.request
from pathlib import Path

from workers import start_worker, stop_worker

from pcfx.ops.kafka import free_port
from pcfx.settings import Settings

LISTEN = "0A"  # TCP state of a listening socket in /proc/net/tcp


def listening_addresses(port: int) -> list[str]:
    """Local addresses of the sockets listening on ``port`` (IPv4 and IPv6), read from the kernel's table."""
    found = []
    for table, family in ((Path("/proc/net/tcp"), socket.AF_INET), (Path("/proc/net/tcp6"), socket.AF_INET6)):
        if not table.exists():
            continue
        for line in table.read_text().splitlines()[1:]:
            fields = line.split()
            address, port_hex = fields[1].split(":")
            if fields[3] == LISTEN and int(port_hex, 16) == port:
                raw = bytes.fromhex(address)
                # the kernel prints each 32-bit word in host (little-endian) order
                raw = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
                found.append(socket.inet_ntop(family, raw))
    return found


def test_the_worker_listens_on_the_configured_interface_only(settings: Settings, tmp_path: Path) -> None:
    assert settings.bind_host == "127.0.0.1"
    port = free_port()
    worker = start_worker(settings, tmp_path / "worker.log", web_port=port)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as response:
                    assert response.status == 200
                    break
            except OSError:
                assert worker.poll() is None, (tmp_path / "worker.log").read_text()[-2000:]
                assert time.monotonic() < deadline, "the worker's /metrics never answered"
                time.sleep(0.5)
        assert listening_addresses(port) == ["127.0.0.1"]
    finally:
        stop_worker(worker)
