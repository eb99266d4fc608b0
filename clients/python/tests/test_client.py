"""The Python client against a real personae server (the same scenario as the Go client test).

The server is ``$PERSONAE_BIN`` (default: this repository's release build,
``target/release/personae``), started on free local ports in a temporary directory.
"""

from __future__ import annotations

import os
import pickle
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path

import grpc
import pytest

from personae_client import Client, common_pb2, groups_pb2, permissions_pb2, users_pb2

ROOT = Path(__file__).resolve().parents[3]


def _free_addr() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return "127.0.0.1:%d" % s.getsockname()[1]


def _server_env() -> dict:
    """This process's environment without PERSONAE_* variables."""
    return {k: v for k, v in os.environ.items() if not k.startswith("PERSONAE_")}


def _wait_healthy(addr: str, proc: subprocess.Popen, timeout: float = 30.0) -> None:
    """Polls grpc.health.v1.Health/Check (no key needed) until the server answers SERVING.

    The call is made with raw bytes to need no health-checking package: the request is an empty
    HealthCheckRequest, and SERVING is the response ``status = 1`` (field 1, varint 1).
    """
    deadline = time.monotonic() + timeout
    last = None
    with grpc.insecure_channel(addr) as channel:
        check = channel.unary_unary("/grpc.health.v1.Health/Check")
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"personae serve exited during start-up with status {proc.returncode}")
            try:
                if check(b"", timeout=1.0) == b"\x08\x01":
                    return
            except grpc.RpcError as err:
                last = err
            if time.monotonic() > deadline:
                raise RuntimeError(f"personae serve not SERVING within {timeout}s (last error: {last})")
            time.sleep(0.1)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """Yields (address, admin API key) of a fresh server; stops it with SIGTERM afterwards."""
    bin_path = Path(os.environ.get("PERSONAE_BIN") or ROOT / "target" / "release" / "personae").resolve()
    if not bin_path.exists():
        pytest.fail(f"{bin_path} does not exist: build it with `cargo build --release --locked` or set PERSONAE_BIN")
    workdir = tmp_path_factory.mktemp("personae")
    env = _server_env()
    token = subprocess.run(
        [str(bin_path), "bootstrap", "--new-token"], cwd=workdir, env=env, check=True, capture_output=True, text=True
    ).stdout.strip()
    assert token.startswith("prs_"), f"bootstrap --new-token printed {token!r}"

    addr, metrics_addr = _free_addr(), _free_addr()
    stderr = open(workdir / "server.stderr", "w+")
    proc = subprocess.Popen(
        [str(bin_path), "serve", "--listen", addr, "--metrics-listen", metrics_addr],
        cwd=workdir,
        env={**env, "PERSONAE_BOOTSTRAP_TOKEN": token},
        stdout=subprocess.DEVNULL,
        stderr=stderr,
    )
    try:
        try:
            _wait_healthy(addr, proc)
        except RuntimeError as err:
            stderr.seek(0)
            pytest.fail(f"{err}\nstderr:\n{stderr.read()}")
        yield addr, token
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            rc = None
        stderr.seek(0)
        log = stderr.read()
        stderr.close()
        assert rc == 0, f"personae serve did not exit cleanly after SIGTERM (status {rc})\nstderr:\n{log}"


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
