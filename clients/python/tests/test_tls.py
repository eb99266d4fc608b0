"""The Python client over TLS: against the real server serving a certificate from a CA made for
the test, and against a stand-in server that requires a client certificate (personae does not
ask for one yet)."""

from __future__ import annotations

import datetime
import ipaddress
import threading
import time
import uuid
from concurrent import futures
from typing import NamedTuple

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

    def issue(self, common_name: str, *hosts: str) -> Pair:
        """A certificate for common_name and its key: with hosts (DNS names or IP addresses) a
        server certificate for them, without a client certificate."""
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
        )
        if hosts:
            names = []
            for host in hosts:
                try:
                    names.append(x509.IPAddress(ipaddress.ip_address(host)))
                except ValueError:
                    names.append(x509.DNSName(host))
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
            builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        else:
            builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
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


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory, ca):
    """A personae server serving TLS with a certificate for localhost and 127.0.0.1 from ca."""
    workdir = tmp_path_factory.mktemp("personae-tls")
    pair = ca.issue("localhost", "localhost", "127.0.0.1")
    (workdir / "tls.crt").write_bytes(pair.cert)
    (workdir / "tls.key").write_bytes(pair.key)
    (workdir / "tls.key").chmod(0o600)
    with run_server(
        workdir,
        ["--tls-cert", str(workdir / "tls.crt"), "--tls-key", str(workdir / "tls.key")],
        grpc.ssl_channel_credentials(ca.pem),
    ) as srv:
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
    # The server does not ask for a client certificate yet: this shows the client is set up
    # with one and connects (test_client_certificate_is_presented shows that it is sent).
    pair = ca.issue("personae-test-client")
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
        pair = other_ca.issue("personae-test-client")
        kwargs = {"root_certificates": other_ca.pem, "private_key": pair.key, "certificate_chain": pair.cert}
    err = _fails_fast(tls_server, **kwargs)
    assert "handshake" in err.details().lower(), err.details()


def test_tls_fails_for_a_name_the_certificate_is_not_for(tls_server, ca):
    _fails_fast(tls_server, root_certificates=ca.pem, server_name="elsewhere.example")


def test_plaintext_to_tls_server_fails(tls_server):
    _fails_fast(tls_server)


def test_client_certificate_is_presented(ca):
    """A stand-in server requiring a client certificate from ca sees the one the client gives,
    and refuses a client without one."""
    seen = []
    lock = threading.Lock()

    def check(request: bytes, context: grpc.ServicerContext) -> bytes:
        with lock:
            seen.extend(context.auth_context().get("x509_common_name", []))
        return SERVING

    server_pair = ca.issue("localhost", "localhost", "127.0.0.1")
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    server.add_generic_rpc_handlers(
        [
            grpc.method_handlers_generic_handler(
                "grpc.health.v1.Health", {"Check": grpc.unary_unary_rpc_method_handler(check)}
            )
        ]
    )
    credentials = grpc.ssl_server_credentials(
        [(server_pair.key, server_pair.cert)], root_certificates=ca.pem, require_client_auth=True
    )
    port = server.add_secure_port("127.0.0.1:0", credentials)
    server.start()
    try:
        addr = f"127.0.0.1:{port}"
        client_pair = ca.issue("personae-test-client")
        with Client(
            addr, root_certificates=ca.pem, private_key=client_pair.key, certificate_chain=client_pair.cert
        ) as client:
            assert client.channel.unary_unary(HEALTH_CHECK)(b"", timeout=10) == SERVING
        assert seen == [b"personae-test-client"]

        with Client(addr, root_certificates=ca.pem) as client:
            started = time.monotonic()
            with pytest.raises(grpc.RpcError) as refused:
                client.channel.unary_unary(HEALTH_CHECK)(b"", timeout=20)
            assert refused.value.code() == grpc.StatusCode.UNAVAILABLE, refused.value.details()
            assert time.monotonic() - started < 10
    finally:
        server.stop(None)


def test_client_rejects_bad_tls_arguments(ca):
    pair = ca.issue("personae-test-client")
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
