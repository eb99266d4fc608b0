"""The Python client over TLS, against the real server serving a certificate from a CA made for
the test: one that asks for no client certificate, and one that requires a client certificate
from that CA (mutual TLS), where a certificate whose email SAN is a service account's username
authenticates as that account."""

from __future__ import annotations

import datetime
import ipaddress
import time
import uuid
from pathlib import Path
from typing import ContextManager, NamedTuple, Optional, Sequence

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from conftest import Server, run_server
from personae_client import Client, users_pb2

HEALTH_CHECK = "/grpc.health.v1.Health/Check"
SERVING = b"\x08\x01"  # HealthCheckResponse{status: SERVING}


class Pair(NamedTuple):
    cert: bytes  # PEM
    key: bytes  # PEM, PKCS #8


class TestCA:
    """A certificate authority made for a test."""

    __test__ = False  # not a test class, for pytest

    def __init__(self, name: str) -> None:
        self._key = ec.generate_private_key(ec.SECP256R1())
        self._name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = datetime.datetime.now(datetime.timezone.utc)
        self._cert = (
            x509.CertificateBuilder()
            .subject_name(self._name)
            .issuer_name(self._name)
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(_key_usage(key_cert_sign=True, crl_sign=True), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(self._key.public_key()), critical=False)
            .sign(self._key, hashes.SHA256())
        )
        self.pem = self._cert.public_bytes(serialization.Encoding.PEM)

    def issue_server(self, *hosts: str) -> Pair:
        """A server certificate for hosts (DNS names or IP addresses; the first is its common
        name) and its key."""
        names = []
        for host in hosts:
            try:
                names.append(x509.IPAddress(ipaddress.ip_address(host)))
            except ValueError:
                names.append(x509.DNSName(host))
        return self._issue(hosts[0], names, ExtendedKeyUsageOID.SERVER_AUTH)

    def issue_client(self, common_name: str, *emails: str) -> Pair:
        """A client certificate for common_name with emails as its email subject alternative
        names (the server authenticates a certificate as the service account one of them names),
        and its key."""
        return self._issue(common_name, [x509.RFC822Name(e) for e in emails], ExtendedKeyUsageOID.CLIENT_AUTH)

    def _issue(self, common_name: str, names: list, usage: x509.ObjectIdentifier) -> Pair:
        """A certificate for common_name with subject alternative names (if any) and extended
        key usage, signed by this CA, and its key."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.timezone.utc)
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
            .issuer_name(self._name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage(), critical=True)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()), critical=False
            )
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        )
        if names:
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        cert = builder.sign(self._key, hashes.SHA256())
        return Pair(
            cert.public_bytes(serialization.Encoding.PEM),
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            ),
        )


def _key_usage(key_cert_sign: bool = False, crl_sign: bool = False) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=key_cert_sign,
        crl_sign=crl_sign,
        encipher_only=False,
        decipher_only=False,
    )


@pytest.fixture(scope="module")
def ca() -> TestCA:
    return TestCA("personae test CA")


@pytest.fixture(scope="module")
def other_ca() -> TestCA:
    return TestCA("another CA")


def _run_tls_server(
    workdir: Path, ca: TestCA, credentials: grpc.ChannelCredentials, serve_args: Sequence[str] = ()
) -> ContextManager[Server]:
    """run_server serving TLS with a certificate for localhost and 127.0.0.1 from ca, with
    serve_args added."""
    pair = ca.issue_server("localhost", "127.0.0.1")
    (workdir / "tls.crt").write_bytes(pair.cert)
    (workdir / "tls.key").write_bytes(pair.key)
    (workdir / "tls.key").chmod(0o600)
    tls_args = ["--tls-cert", str(workdir / "tls.crt"), "--tls-key", str(workdir / "tls.key")]
    return run_server(workdir, [*tls_args, *serve_args], credentials)


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory, ca):
    """A personae server serving TLS with a certificate for localhost and 127.0.0.1 from ca."""
    with _run_tls_server(tmp_path_factory.mktemp("personae-tls"), ca, grpc.ssl_channel_credentials(ca.pem)) as srv:
        yield srv


def _call(srv: Server, **kwargs) -> None:
    """Checks health and makes an authenticated call through a Client given kwargs."""
    with Client(srv.addr, api_key=srv.token, **kwargs) as client:
        assert client.channel.unary_unary(HEALTH_CHECK)(b"", timeout=10) == SERVING
        email = f"tls.{uuid.uuid4().hex[:12]}@example.com"
        user = client.users.CreateUser(users_pb2.CreateUserRequest(email=email, full_name="Over TLS"), timeout=10)
        assert user.username == email
        assert client.users.GetUser(users_pb2.GetUserRequest(id=user.id), timeout=10).id == user.id


def test_tls_with_ca(tls_server, ca):
    _call(tls_server, root_certificates=ca.pem)


def test_tls_with_ca_and_client_certificate(tls_server, ca):
    # tls_server has no --tls-client-ca, so it requests no client certificate and a client that
    # has one still connects; the test_mtls_* tests call a server that requires one.
    pair = ca.issue_client("personae-test-client")
    _call(tls_server, root_certificates=ca.pem, private_key=pair.key, certificate_chain=pair.cert)


def test_tls_with_server_name(tls_server, ca):
    _call(tls_server, root_certificates=ca.pem, server_name="localhost")


def test_tls_with_channel_credentials(tls_server, ca):
    _call(tls_server, tls=grpc.ssl_channel_credentials(ca.pem))


def _fails_fast(srv: Server, **kwargs) -> grpc.RpcError:
    """Makes a call that must fail with UNAVAILABLE well before its 20 s deadline."""
    with Client(srv.addr, api_key=srv.token, **kwargs) as client:
        started = time.monotonic()
        with pytest.raises(grpc.RpcError) as failed:
            client.users.GetUser(users_pb2.GetUserRequest(username="nobody@example.com"), timeout=20)
        took = time.monotonic() - started
    assert failed.value.code() == grpc.StatusCode.UNAVAILABLE, failed.value.details()
    assert took < 10, f"the call took {took:.1f}s to fail"
    return failed.value


@pytest.mark.parametrize(
    "case",
    ["no CA (the default roots)", "another CA", "another CA with its client certificate"],
)
def test_tls_fails_without_the_ca(tls_server, other_ca, case):
    if case == "no CA (the default roots)":
        kwargs = {"tls": True}
    elif case == "another CA":
        kwargs = {"root_certificates": other_ca.pem}
    else:
        pair = other_ca.issue_client("personae-test-client")
        kwargs = {"root_certificates": other_ca.pem, "private_key": pair.key, "certificate_chain": pair.cert}
    err = _fails_fast(tls_server, **kwargs)
    assert "handshake" in err.details().lower(), err.details()


def test_tls_fails_for_a_name_the_certificate_is_not_for(tls_server, ca):
    _fails_fast(tls_server, root_certificates=ca.pem, server_name="elsewhere.example")


def test_plaintext_to_tls_server_fails(tls_server):
    _fails_fast(tls_server)


@pytest.fixture(scope="module")
def mtls_server(tmp_path_factory, ca):
    """A personae server like tls_server that requires a client certificate from ca
    (--tls-client-ca, --tls-client-auth required)."""
    workdir = tmp_path_factory.mktemp("personae-mtls")
    (workdir / "client-ca.crt").write_bytes(ca.pem)
    # The start-up health check cannot connect without a certificate either.
    health = ca.issue_client("personae-health-check")
    with _run_tls_server(
        workdir,
        ca,
        grpc.ssl_channel_credentials(ca.pem, health.key, health.cert),
        ["--tls-client-ca", str(workdir / "client-ca.crt"), "--tls-client-auth", "required"],
    ) as srv:
        yield srv


def _mtls_client(srv: Server, ca: TestCA, pair: Pair, api_key: Optional[str] = None) -> Client:
    """A client of srv verifying it against ca and presenting pair, with api_key if given."""
    return Client(
        srv.addr, api_key=api_key, root_certificates=ca.pem, private_key=pair.key, certificate_chain=pair.cert
    )


def test_mtls_health_with_a_client_certificate(mtls_server, ca):
    with _mtls_client(mtls_server, ca, ca.issue_client("personae-test-client")) as client:
        assert client.channel.unary_unary(HEALTH_CHECK)(b"", timeout=10) == SERVING


def _refused(client: Client, alert: str, capfd) -> None:
    """Checks health through client, which must fail with UNAVAILABLE well before its deadline
    because the server refused the handshake with alert.

    In TLS 1.3 the client's handshake is complete before the server checks its certificate, so
    the call fails on unwrapping the server's alert record, and gRPC's details say only that;
    gRPC logs the alert itself (BoringSSL's name for it) on stderr."""
    capfd.readouterr()
    started = time.monotonic()
    with pytest.raises(grpc.RpcError) as refused:
        client.channel.unary_unary(HEALTH_CHECK)(b"", timeout=20)
    took = time.monotonic() - started
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE, refused.value.details()
    assert took < 10, f"the call took {took:.1f}s to fail"
    logged = capfd.readouterr().err
    assert alert in logged, f"{refused.value.details()}; gRPC logged:\n{logged}"


def test_mtls_fails_without_a_client_certificate(mtls_server, ca, capfd):
    with Client(mtls_server.addr, root_certificates=ca.pem) as client:
        _refused(client, "TLSV1_ALERT_CERTIFICATE_REQUIRED", capfd)


def test_mtls_fails_with_a_client_certificate_from_another_ca(mtls_server, ca, other_ca, capfd):
    with _mtls_client(mtls_server, ca, other_ca.issue_client("personae-test-client")) as client:
        _refused(client, "TLSV1_ALERT_UNKNOWN_CA", capfd)


def test_mtls_certificate_authenticates_as_the_service_account_it_names(mtls_server, ca):
    admin_pair = ca.issue_client("personae-test-admin")
    with _mtls_client(mtls_server, ca, admin_pair, api_key=mtls_server.token) as admin:
        account = admin.users.CreateUser(
            users_pb2.CreateUserRequest(
                email="connector@example.com", full_name="Connector", kind=users_pb2.USER_KIND_SERVICE_ACCOUNT
            ),
            timeout=10,
        )
        bystander = admin.users.CreateUser(
            users_pb2.CreateUserRequest(email="bystander@example.com", full_name="Bystander"), timeout=10
        )
    get_account = users_pb2.GetUserRequest(id=account.id)

    # No API key: the certificate alone authenticates.
    with _mtls_client(mtls_server, ca, ca.issue_client("connector", "connector@example.com")) as connector:
        got = connector.users.GetUser(get_account, timeout=10)
        assert (got.id, got.username, got.kind) == (
            account.id,
            "connector@example.com",
            users_pb2.USER_KIND_SERVICE_ACCOUNT,
        )
        # GetUser of another user needs USER_ADMIN, which the account does not hold: the call is
        # the account's, not some other (admin) caller's.
        with pytest.raises(grpc.RpcError) as denied:
            connector.users.GetUser(users_pb2.GetUserRequest(id=bystander.id), timeout=10)
        assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED, denied.value.details()

    with _mtls_client(mtls_server, ca, ca.issue_client("stranger", "stranger@example.com")) as stranger:
        with pytest.raises(grpc.RpcError) as unauthenticated:
            stranger.users.GetUser(get_account, timeout=10)
        assert unauthenticated.value.code() == grpc.StatusCode.UNAUTHENTICATED, unauthenticated.value.details()


def test_client_rejects_bad_tls_arguments(ca):
    pair = ca.issue_client("personae-test-client")
    addr = "127.0.0.1:1"
    with pytest.raises(TypeError):
        Client(addr, root_certificates="ca.crt")
    with pytest.raises(ValueError, match="root_certificates"):
        Client(addr, root_certificates=b"not a certificate")
    with pytest.raises(ValueError, match="private_key"):
        Client(addr, root_certificates=ca.pem, private_key=pair.cert, certificate_chain=pair.cert)
    with pytest.raises(ValueError, match="together"):
        Client(addr, root_certificates=ca.pem, private_key=pair.key)
    with pytest.raises(ValueError, match="tls=False"):
        Client(addr, tls=False, root_certificates=ca.pem)
    with pytest.raises(ValueError, match="ChannelCredentials"):
        Client(addr, tls=grpc.ssl_channel_credentials(), root_certificates=ca.pem)
    with pytest.raises(TypeError):
        Client(addr, server_name=b"localhost")
