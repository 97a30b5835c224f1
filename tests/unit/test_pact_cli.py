"""`pcfx clients` and the TLS files `pcfx api` serves with."""

from __future__ import annotations

import datetime as dt
import ipaddress
import stat

import pytest
from click.testing import CliRunner
from cryptography import x509

from pcfx.cli import main
from pcfx.connectors.pact_api.tls import certificate_files
from pcfx.settings import Settings

COMPANY = "urn:pact:oem.de:company-id:42"


@pytest.fixture
def run(tmp_path):
    env = {"PCFX_DATA_DIR": str(tmp_path)}

    def invoke(*args: str):
        return CliRunner().invoke(main, list(args), env=env)

    return invoke


def test_add_prints_a_secret_once_list_shows_the_client_remove_deletes_it(run):
    added = run("clients", "add", "oem", "--company", COMPANY, "--callback-url", "https://oem.example/pact")
    assert added.exit_code == 0 and "client_secret=" in added.output
    listed = run("clients", "list")
    assert f"oem\tcompany={COMPANY}\tcallback=https://oem.example/pact\tgrants=-" in listed.output
    secret = added.output.split("client_secret=")[1].strip()
    assert secret not in listed.output
    assert run("clients", "remove", "oem").exit_code == 0
    assert run("clients", "list").output == ""


def test_adding_an_existing_client_or_removing_a_missing_one_fails_with_a_message(run):
    run("clients", "add", "oem", "--company", COMPANY)
    again = run("clients", "add", "oem", "--company", COMPANY)
    assert again.exit_code != 0 and "exists already" in again.output
    missing = run("clients", "remove", "nobody")
    assert missing.exit_code != 0 and "no client 'nobody'" in missing.output


def test_grants_show_in_the_list_and_can_be_revoked(run):
    run("clients", "add", "oem", "--company", COMPANY)
    owner = "urn:pact:frames.example:company-id:1"
    assert run("clients", "grant", COMPANY, "--owner", owner).exit_code == 0
    assert f"grants=company:{owner}" in run("clients", "list").output
    assert run("clients", "revoke", COMPANY, "--owner", owner).exit_code == 0
    assert run("clients", "revoke", COMPANY, "--owner", owner).exit_code != 0
    both = run("clients", "grant", COMPANY, "--product", "urn:a:b", "--owner", "urn:c:d")
    assert both.exit_code != 0 and "not both" in both.output


def test_a_product_grant_needs_its_owner(run):
    """A product grant is an owner's Entitlement: with no footprint held, the owner must be named."""
    unknown = run("clients", "grant", COMPANY, "--product", "urn:gtin:4712345060507")
    assert unknown.exit_code != 0 and "name it with --supplier" in unknown.output


def test_a_self_signed_certificate_is_made_once_with_a_private_key(tmp_path):
    settings = Settings.from_env({}, data_dir=tmp_path, api_public_url="https://pact.example.cn:8443")
    cert_path, key_path = certificate_files(settings)
    certificate = x509.load_pem_x509_certificate(cert_path.read_bytes())
    names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "pact.example.cn" in names.get_values_for_type(x509.DNSName)
    assert ipaddress.ip_address("127.0.0.1") in names.get_values_for_type(x509.IPAddress)
    assert certificate.not_valid_after_utc - dt.datetime.now(dt.timezone.utc) > dt.timedelta(days=300)
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    first = cert_path.read_bytes()
    assert certificate_files(settings) == (cert_path, key_path) and cert_path.read_bytes() == first  # reused


def test_a_configured_certificate_needs_its_key(tmp_path):
    with pytest.raises(ValueError, match="both PCFX_TLS_CERT and PCFX_TLS_KEY"):
        certificate_files(Settings.from_env({}, data_dir=tmp_path, tls_cert=str(tmp_path / "c.pem")))
