"""Issue 17.2: the exchange calls only https URLs of public addresses, unless the operator allows more."""

from __future__ import annotations

import pytest

from pcfx.connectors.webhook_targets import AllowList, TargetRefused, check_target

NONE = AllowList.parse("")


def resolving_to(*addresses: str):
    return lambda host, port: list(addresses)


@pytest.mark.parametrize("url, addresses", [
    ("https://127.0.0.1/hook", ["127.0.0.1"]),
    ("https://[::1]/hook", ["::1"]),
    ("https://169.254.169.254/latest/meta-data", ["169.254.169.254"]),  # cloud metadata (link-local)
    ("https://buyer.example/hook", ["10.1.2.3"]),  # a public name resolving into the operator's network
    ("https://buyer.example/hook", ["93.184.215.14", "192.168.0.7"]),  # one private address is enough to refuse
    ("https://buyer.example/hook", ["::ffff:127.0.0.1"]),
    ("https://0.0.0.0/hook", ["0.0.0.0"]),
])
def test_non_public_addresses_are_refused_by_default(url, addresses) -> None:
    with pytest.raises(TargetRefused, match="not a public address"):
        check_target(url, NONE, resolving_to(*addresses))


def test_plain_http_and_other_schemes_are_refused() -> None:
    with pytest.raises(TargetRefused, match="only https"):
        check_target("http://buyer.example/hook", NONE, resolving_to("93.184.215.14"))
    with pytest.raises(TargetRefused, match="absolute https URL"):
        check_target("file:///etc/passwd", NONE, resolving_to("93.184.215.14"))


def test_https_to_a_public_address_is_a_target() -> None:
    check_target("https://buyer.example/hook", NONE, resolving_to("93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"))


def test_a_host_that_does_not_resolve_is_refused() -> None:
    def fails(host, port):
        raise OSError("Name or service not known")
    with pytest.raises(TargetRefused, match="does not resolve"):
        check_target("https://nowhere.invalid/hook", NONE, fails)


def test_the_operator_allow_list_admits_addresses_networks_and_names_over_http_too() -> None:
    allow = AllowList.parse("127.0.0.1, 10.0.0.0/8, receiver.internal")
    check_target("http://127.0.0.1:8080/hook", allow, resolving_to("127.0.0.1"))
    check_target("https://buyer.example/hook", allow, resolving_to("10.9.8.7"))
    check_target("http://receiver.internal/hook", allow, resolving_to("192.168.1.5"))
    with pytest.raises(TargetRefused):
        check_target("http://127.0.0.2/hook", allow, resolving_to("127.0.0.2"))
