"""Python client for the personae identity and permissions service.

``Client`` opens one gRPC channel and exposes a stub for each service of the API (package
``personae.v1``); the request and response messages are in the ``*_pb2`` modules re-exported
here::

    from personae_client import Client, users_pb2

    with Client("127.0.0.1:50051", api_key=key) as client:
        user = client.users.CreateUser(
            users_pb2.CreateUserRequest(email="ada@example.com", full_name="Ada Lovelace"))

Over TLS, ``root_certificates`` is the PEM of the CA that issued the server's certificate, and
``private_key`` with ``certificate_chain`` a client certificate::

    ca = Path("ca.crt").read_bytes()
    with Client("personae.internal:50051", api_key=key, root_certificates=ca) as client:
        ...

Errors are raised as ``grpc.RpcError``: ``err.code()`` is a ``grpc.StatusCode``
(``INVALID_ARGUMENT``, ``NOT_FOUND``, ``PERMISSION_DENIED``, ...) and ``err.details()`` the
server's message.
"""

from __future__ import annotations

import collections
from typing import Optional, Sequence, Tuple, Union

import grpc

from ._generated.personae.v1 import (
    audit_pb2,
    audit_pb2_grpc,
    common_pb2,
    groups_pb2,
    groups_pb2_grpc,
    iam_pb2,
    iam_pb2_grpc,
    impersonation_pb2,
    impersonation_pb2_grpc,
    permissions_pb2,
    permissions_pb2_grpc,
    users_pb2,
    users_pb2_grpc,
)

__all__ = [
    "CONSISTENCY_TOKEN_HEADER",
    "Client",
    "audit_pb2",
    "audit_pb2_grpc",
    "common_pb2",
    "groups_pb2",
    "groups_pb2_grpc",
    "iam_pb2",
    "iam_pb2_grpc",
    "impersonation_pb2",
    "impersonation_pb2_grpc",
    "permissions_pb2",
    "permissions_pb2_grpc",
    "users_pb2",
    "users_pb2_grpc",
]

#: The response header in which every mutating RPC returns the policy revision it committed
#: (read it with ``stub.Method.with_call(...)``); pass it to a check RPC as
#: ``common_pb2.Consistency(at_least_as_fresh=token)`` for an answer at least that fresh.
CONSISTENCY_TOKEN_HEADER = "personae-consistency-token"


class _CallDetails(
    collections.namedtuple(
        "_CallDetails",
        ("method", "timeout", "metadata", "credentials", "wait_for_ready", "compression"),
    ),
    grpc.ClientCallDetails,
):
    pass


class _BearerInterceptor(
    grpc.UnaryUnaryClientInterceptor,
    grpc.UnaryStreamClientInterceptor,
    grpc.StreamUnaryClientInterceptor,
    grpc.StreamStreamClientInterceptor,
):
    """Adds ``authorization: Bearer <api key>`` to every call, over TLS or plaintext."""

    def __init__(self, api_key: str) -> None:
        self._header = ("authorization", f"Bearer {api_key}")

    def _details(self, details: grpc.ClientCallDetails) -> _CallDetails:
        metadata = [m for m in (details.metadata or ()) if m[0] != "authorization"]
        metadata.append(self._header)
        return _CallDetails(
            details.method,
            details.timeout,
            metadata,
            details.credentials,
            getattr(details, "wait_for_ready", None),
            getattr(details, "compression", None),
        )

    def intercept_unary_unary(self, continuation, client_call_details, request):
        return continuation(self._details(client_call_details), request)

    def intercept_unary_stream(self, continuation, client_call_details, request):
        return continuation(self._details(client_call_details), request)

    def intercept_stream_unary(self, continuation, client_call_details, request_iterator):
        return continuation(self._details(client_call_details), request_iterator)

    def intercept_stream_stream(self, continuation, client_call_details, request_iterator):
        return continuation(self._details(client_call_details), request_iterator)


def _check_pem(name: str, value: Optional[bytes], marker: bytes) -> None:
    """Raises unless value is None or PEM bytes holding marker (catching a path or DER early:
    gRPC itself would only fail at the first call)."""
    if value is None:
        return
    if not isinstance(value, bytes):
        raise TypeError(
            f"{name} must be PEM bytes (such as Path(...).read_bytes()), not {type(value).__name__}"
        )
    if marker not in value:
        raise ValueError(f"personae_client.Client: {name} is not PEM (no {marker.decode()!r} in it)")


class Client:
    """A channel to a personae server with a stub for each of its services.

    ``addr`` is ``host:port``. ``api_key`` is sent as ``authorization: Bearer <api key>`` with
    every call (without one, only the health check and reflection answer).

    TLS: ``root_certificates`` (PEM bytes: the CA certificates to verify the server against,
    instead of the default roots), ``private_key`` and ``certificate_chain`` (PEM bytes: a
    client certificate, presented when the server asks for one), and ``server_name`` (the name
    to verify the server's certificate for, instead of the host in ``addr``). Any of them means
    TLS. ``tls`` is None (TLS when any of them is given, otherwise plaintext), False (plaintext),
    True (TLS, with those arguments or the default roots) or a ``grpc.ChannelCredentials`` made
    by the caller (then put the certificates in it; ``server_name`` still applies).

    ``options`` are gRPC channel options. Use it as a context manager, or call ``close()``.

    Attributes: ``users``, ``groups``, ``permissions``, ``iam_config``, ``impersonation``,
    ``audit`` (the generated stubs) and ``channel``.
    """

    def __init__(
        self,
        addr: str,
        api_key: Optional[str] = None,
        tls: Union[bool, grpc.ChannelCredentials, None] = None,
        *,
        root_certificates: Optional[bytes] = None,
        private_key: Optional[bytes] = None,
        certificate_chain: Optional[bytes] = None,
        server_name: Optional[str] = None,
        options: Optional[Sequence[Tuple[str, object]]] = None,
    ) -> None:
        if not addr:
            raise ValueError("personae_client.Client: empty server address")
        if not (tls is None or isinstance(tls, (bool, grpc.ChannelCredentials))):
            raise TypeError(f"tls must be a bool or grpc.ChannelCredentials, not {type(tls).__name__}")
        _check_pem("root_certificates", root_certificates, b"-----BEGIN CERTIFICATE-----")
        _check_pem("private_key", private_key, b"PRIVATE KEY-----")
        _check_pem("certificate_chain", certificate_chain, b"-----BEGIN CERTIFICATE-----")
        if (private_key is None) != (certificate_chain is None):
            raise ValueError("personae_client.Client: give private_key and certificate_chain together")
        if server_name is not None and not isinstance(server_name, str):
            raise TypeError(f"server_name must be a str, not {type(server_name).__name__}")
        cert_args = root_certificates is not None or private_key is not None
        if tls is False and (cert_args or server_name):
            raise ValueError(
                "personae_client.Client: tls=False (plaintext) with root_certificates, private_key, "
                "certificate_chain or server_name"
            )
        if isinstance(tls, grpc.ChannelCredentials) and cert_args:
            raise ValueError(
                "personae_client.Client: tls is a grpc.ChannelCredentials: put root_certificates, "
                "private_key and certificate_chain in it"
            )

        channel_options = list(options or ())
        if server_name:
            channel_options.append(("grpc.ssl_target_name_override", server_name))
        if isinstance(tls, grpc.ChannelCredentials):
            self._raw_channel = grpc.secure_channel(addr, tls, channel_options)
        elif tls is True or cert_args or server_name:
            credentials = grpc.ssl_channel_credentials(root_certificates, private_key, certificate_chain)
            self._raw_channel = grpc.secure_channel(addr, credentials, channel_options)
        else:
            self._raw_channel = grpc.insecure_channel(addr, channel_options)

        channel: grpc.Channel = self._raw_channel
        if api_key:
            channel = grpc.intercept_channel(channel, _BearerInterceptor(api_key))
        self.channel = channel
        self.users = users_pb2_grpc.UsersStub(channel)
        self.groups = groups_pb2_grpc.GroupsStub(channel)
        self.permissions = permissions_pb2_grpc.PermissionsStub(channel)
        self.iam_config = iam_pb2_grpc.IamConfigStub(channel)
        self.impersonation = impersonation_pb2_grpc.ImpersonationStub(channel)
        self.audit = audit_pb2_grpc.AuditStub(channel)

    def close(self) -> None:
        """Closes the channel; calls in flight are cancelled."""
        self._raw_channel.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
