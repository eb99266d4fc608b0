"""The Python client against a real personae server (the same scenario as the Go client test).

The server is started by the ``server`` fixture of conftest.py.
"""

from __future__ import annotations

import pickle
import uuid

import grpc
import pytest

from personae_client import Client, common_pb2, groups_pb2, permissions_pb2, users_pb2


def test_client_against_server(server):
    addr, token = server
    with Client(addr, api_key=token) as client:
        # CreateUser: the email becomes the username.
        email = f"ada.{uuid.uuid4().hex[:12]}@example.com"
        user = client.users.CreateUser(users_pb2.CreateUserRequest(email=email, full_name="Ada Lovelace"), timeout=10)
        assert user.id
        assert user.username == email
        assert user.full_name == "Ada Lovelace"

        # GetUser by username.
        got = client.users.GetUser(users_pb2.GetUserRequest(username=email), timeout=10)
        assert got.id == user.id

        # CreateGroup and AddMembers.
        group = client.groups.CreateGroup(
            groups_pb2.CreateGroupRequest(name="Analysts", description="from the Python client test"), timeout=10
        )
        group = client.groups.AddMembers(groups_pb2.AddMembersRequest(group_id=group.id, user_ids=[user.id]), timeout=10)
        assert group.member_count == 1

        # GrantPermission, then CheckPermission sees it.
        granted = client.permissions.GrantPermission(
            permissions_pb2.GrantPermissionRequest(user_id=user.id, permission="AUDIT"), timeout=10
        )
        assert "AUDIT" in granted.permissions
        check = client.permissions.CheckPermission(
            permissions_pb2.CheckPermissionRequest(
                user_id=user.id,
                permission="AUDIT",
                consistency=common_pb2.Consistency(fully_consistent=True),
            ),
            timeout=10,
        )
        assert check.allowed is True

        # A bad email: INVALID_ARGUMENT naming the field.
        with pytest.raises(grpc.RpcError) as bad:
            client.users.CreateUser(users_pb2.CreateUserRequest(email="not-an-email", full_name="Nobody"), timeout=10)
        assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "email" in bad.value.details()

    # No key: UNAUTHENTICATED.
    with Client(addr) as anonymous:
        with pytest.raises(grpc.RpcError) as unauthenticated:
            anonymous.users.GetUser(users_pb2.GetUserRequest(id=user.id), timeout=10)
        assert unauthenticated.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_client_rejects_bad_arguments():
    with pytest.raises(ValueError):
        Client("")
    with pytest.raises(TypeError):
        Client("127.0.0.1:1", tls="yes")


def test_generated_modules_are_importable_and_messages_pickle():
    user = users_pb2.User(id="01", email="ada@example.com", permissions=["AUDIT"])
    assert users_pb2.User.__module__ == "personae_client._generated.personae.v1.users_pb2"
    assert pickle.loads(pickle.dumps(user)) == user
