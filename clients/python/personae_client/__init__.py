"""Python client for the personae identity and permissions service.

``Client`` opens one gRPC channel and exposes a stub for each service of the API (package
``personae.v1``); the request and response messages are in the ``*_pb2`` modules re-exported
here::

    from personae_client import Client, users_pb2

    with Client("127.0.0.1:50051", api_key=key) as client:
        user = client.users.CreateUser(
            users_pb2.CreateUserRequest(email="ada@example.com", full_name="Ada Lovelace"))

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


class Client:
    """A channel to a personae server with a stub for each of its services.

    ``addr`` is ``host:port``. ``api_key`` is sent as ``authorization: Bearer <api key>`` with
    every call (without one, only the health check and reflection answer). ``tls`` is False for
    plaintext, True for TLS verified against the default roots, or a
    ``grpc.ChannelCredentials`` (custom roots, a client certificate for mTLS). ``options`` are
    gRPC channel options. Use it as a context manager, or call ``close()``.

    Attributes: ``users``, ``groups``, ``permissions``, ``iam_config``, ``impersonation``,
    ``audit`` (the generated stubs) and ``channel``.
    """

    def __init__(
        self,
        addr: str,
        api_key: Optional[str] = None,
        tls: Union[bool, grpc.ChannelCredentials] = False,
        *,
        options: Optional[Sequence[Tuple[str, object]]] = None,
    ) -> None:
        if not addr:
            raise ValueError("personae_client.Client: empty server address")
        if tls is True:
            self._raw_channel = grpc.secure_channel(addr, grpc.ssl_channel_credentials(), options)
        elif isinstance(tls, grpc.ChannelCredentials):
            self._raw_channel = grpc.secure_channel(addr, tls, options)
        elif tls is False or tls is None:
            self._raw_channel = grpc.insecure_channel(addr, options)
        else:
            raise TypeError(f"tls must be a bool or grpc.ChannelCredentials, not {type(tls).__name__}")

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
