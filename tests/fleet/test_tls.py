"""TLS to a real PostgreSQL: the kiosk's ``verify-full`` default works, and a wrong server is refused.

A throwaway cluster of its own (so the other fleet tests keep their plain loopback server) gets a
server certificate signed by a test CA (both made here with ``cryptography``); TLS is switched on
with ``ALTER SYSTEM`` and a configuration reload, as an operator would on a running server.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from pathlib import Path

import psycopg
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from biogate.errors import FleetError
from biogate.fleet import FleetAgent, connect
from biogate.fleet.pgtemp import TempPostgres, find_pg_bin
from biogate.gallery import Enrollment, Gallery, GalleryKey

from .conftest import Fleet, wait_until

pytestmark = pytest.mark.skipif(find_pg_bin() is None, reason="no PostgreSQL binaries: TLS test skipped")


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _certificate(subject: str, issuer_key, issuer: str, key, *, ca: bool) -> x509.Certificate:
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if not ca:
        names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _write_ca(folder: Path, name: str) -> tuple[Path, object]:
    key = ec.generate_private_key(ec.SECP256R1())
    path = folder / f"{name}.crt"
    path.write_bytes(_pem(_certificate(name, key, name, key, ca=True)))
    return path, key


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tls")
    ca_path, ca_key = _write_ca(folder, "biogate-test-ca")
    other_ca, _ = _write_ca(folder, "someone-else-ca")
    server = TempPostgres()
    try:
        key = ec.generate_private_key(ec.SECP256R1())
        owner = os.stat(server.data)
        cert_file, key_file = server.data / "server.crt", server.data / "server.key"
        cert_file.write_bytes(_pem(_certificate("127.0.0.1", ca_key, "biogate-test-ca", key, ca=False)))
        key_file.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        for path in (cert_file, key_file):
            os.chmod(path, 0o600)  # PostgreSQL refuses a key others can read
            os.chown(path, owner.st_uid, owner.st_gid)
        with psycopg.connect(server.dsn(), autocommit=True) as conn:
            conn.execute("ALTER SYSTEM SET ssl = 'on'")
            conn.execute("ALTER SYSTEM SET ssl_cert_file = 'server.crt'")
            conn.execute("ALTER SYSTEM SET ssl_key_file = 'server.key'")
            conn.execute("SELECT pg_reload_conf()")

        def tls_up() -> bool:
            try:
                with connect(server.dsn(), sslmode="verify-full", sslrootcert=str(ca_path)):
                    return True
            except FleetError:
                return False

        wait_until(tls_up, what="the server to accept TLS after the reload")
        yield server, ca_path, other_ca
    finally:
        server.close()


def _is_tls(conn) -> bool:
    return conn.execute("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").fetchone()[0]


def test_verify_full_connects_over_tls_and_a_foreign_ca_is_refused(tls_server):
    server, ca_path, other_ca = tls_server
    with connect(server.dsn(), sslmode="verify-full", sslrootcert=str(ca_path)) as conn:
        assert _is_tls(conn)
    with connect(server.dsn(), sslmode="disable") as conn:
        assert not _is_tls(conn)  # proves the check above can fail
    with pytest.raises(FleetError) as refused:
        connect(server.dsn(), sslmode="verify-full", sslrootcert=str(other_ca))
    message = str(refused.value)
    assert "certificate" in message and server.password not in message and "***" in message


def test_kiosk_agent_syncs_over_verify_full(tls_server, tmp_path):
    server, ca_path, _ = tls_server
    fleet = Fleet(server, tmp_path)
    try:
        people = {f"E{i}": fleet.templates(1) for i in range(5)}
        fleet.admin.enroll_many("hq", fleet.site_key, [Enrollment(k, "", v) for k, v in people.items()])
        dsn = fleet.kiosk("door1")
        with connect(dsn, sslmode="verify-full", sslrootcert=str(ca_path)) as conn:
            assert _is_tls(conn)  # the kiosk's own role, over TLS
        gallery = Gallery(tmp_path / "faces.db", GalleryKey.generate(), create=True)
        agent = FleetAgent(
            dsn,
            fleet.site_key,
            gallery,
            str(tmp_path / "state.db"),
            poll_s=0.2,
            max_staleness_s=30,
            reconnect_min_s=0.05,
            reconnect_max_s=0.2,
            sslmode="verify-full",
            sslrootcert=str(ca_path),
        )
        try:
            agent.start()
            wait_until(lambda: agent.status()["fresh"] and len(gallery) == 5, what="full sync over TLS")
            fleet.admin.delete("hq", "E2", reason="left")
            wait_until(lambda: "E2" not in gallery, what="revocation over TLS")
        finally:
            agent.stop()
            gallery.close()
    finally:
        fleet.close()
