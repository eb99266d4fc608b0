"""Starting a real personae server for the tests, over plaintext or TLS.

The server is ``$PERSONAE_BIN`` (default: this repository's release build,
``target/release/personae``), started on free local ports in a temporary directory with a
bootstrap admin key, and stopped with SIGTERM.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Iterator, NamedTuple, Optional, Sequence

import grpc
import pytest

ROOT = Path(__file__).resolve().parents[3]


class Server(NamedTuple):
    addr: str
    token: str


def _free_addr() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return "127.0.0.1:%d" % s.getsockname()[1]


def _server_env() -> dict:
    """This process's environment without PERSONAE_* variables."""
    return {k: v for k, v in os.environ.items() if not k.startswith("PERSONAE_")}


def _wait_healthy(
    addr: str,
    proc: subprocess.Popen,
    credentials: Optional[grpc.ChannelCredentials] = None,
    timeout: float = 30.0,
) -> None:
    """Polls grpc.health.v1.Health/Check (no key needed) until the server answers SERVING,
    over TLS with ``credentials`` when given.

    The call is made with raw bytes to need no health-checking package: the request is an empty
    HealthCheckRequest, and SERVING is the response ``status = 1`` (field 1, varint 1).
    """
    deadline = time.monotonic() + timeout
    last = None
    if credentials is None:
        channel = grpc.insecure_channel(addr)
    else:
        channel = grpc.secure_channel(addr, credentials)
    with channel:
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


@contextlib.contextmanager
def run_server(
    workdir: Path,
    serve_args: Sequence[str] = (),
    credentials: Optional[grpc.ChannelCredentials] = None,
) -> Iterator[Server]:
    """Runs `personae serve` (with ``serve_args`` added) in ``workdir`` until the block ends,
    then stops it with SIGTERM and fails unless it exits cleanly. ``credentials`` are those with
    which the health check reaches it (None: plaintext)."""
    bin_path = Path(os.environ.get("PERSONAE_BIN") or ROOT / "target" / "release" / "personae").resolve()
    if not bin_path.exists():
        pytest.fail(f"{bin_path} does not exist: build it with `cargo build --release --locked` or set PERSONAE_BIN")
    env = _server_env()
    token = subprocess.run(
        [str(bin_path), "bootstrap", "--new-token"], cwd=workdir, env=env, check=True, capture_output=True, text=True
    ).stdout.strip()
    assert token.startswith("prs_"), f"bootstrap --new-token printed {token!r}"

    addr, metrics_addr = _free_addr(), _free_addr()
    stderr = open(workdir / "server.stderr", "w+")
    proc = subprocess.Popen(
        [str(bin_path), "serve", "--listen", addr, "--metrics-listen", metrics_addr, *serve_args],
        cwd=workdir,
        env={**env, "PERSONAE_BOOTSTRAP_TOKEN": token},
        stdout=subprocess.DEVNULL,
        stderr=stderr,
    )
    try:
        try:
            _wait_healthy(addr, proc, credentials)
        except RuntimeError as err:
            stderr.seek(0)
            pytest.fail(f"{err}\nstderr:\n{stderr.read()}")
        yield Server(addr, token)
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


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """Yields (address, admin API key) of a fresh plaintext server."""
    with run_server(tmp_path_factory.mktemp("personae")) as srv:
        yield srv
