"""A client on another host, for "refused from a non-loopback address": a network namespace joined by a veth pair.

``RemoteHost`` creates a network namespace (``ip netns add``, iproute2) with one end of a veth pair in it
(10.R.S.2/30) and the other end on this machine (10.R.S.1/30). Requests from inside the namespace reach this
machine's services at ``host_address`` from a source that is not loopback, exactly as another machine on the
network would. When namespaces cannot be made (no root, no iproute2), a second, non-loopback address of this
machine is used instead: the client binds its socket to it, so the server sees that address as the peer.

Each request is one ``python -c`` in the namespace (``ip netns exec``), so the test process itself never leaves
this machine's own network.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from dataclasses import dataclass
from typing import Optional

CLIENT = r"""
import http.client, json, sys
request = json.loads(sys.argv[1])
try:
    connection = http.client.HTTPConnection(request["host"], request["port"], timeout=request["timeout"],
                                            source_address=(request["source"], 0) if request["source"] else None)
    connection.request(request["method"], request["path"], body=request["body"], headers=request["headers"])
    answer = connection.getresponse()
    print(json.dumps({"status": answer.status, "body": answer.read(200_000).decode("utf-8", "replace"),
                      "headers": dict(answer.getheaders())}))
except OSError as error:
    print(json.dumps({"status": None, "error": f"{type(error).__name__}: {error}"}))
"""


@dataclass
class Answer:
    """What a remote request got: an HTTP status and body, or no connection at all (``status`` None)."""

    status: Optional[int]
    body: str = ""
    error: str = ""
    headers: Optional[dict] = None

    @property
    def refused(self) -> bool:
        """Whether no HTTP answer came back (connection refused, reset or unreachable)."""
        return self.status is None


def _ip(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30)


def second_address() -> Optional[str]:
    """A non-loopback IPv4 address of this machine, if it has one."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("192.0.2.1", 9))  # no packet is sent: this only picks the outgoing interface
            address = probe.getsockname()[0]
    except OSError:
        return None
    return None if address.startswith("127.") else address


class RemoteHost:
    """Another host's view of this machine: requests come from a non-loopback address."""

    def __init__(self) -> None:
        self.namespace: Optional[str] = None
        self.source: Optional[str] = None
        self.host_address = ""
        self.how = ""

    def start(self) -> "RemoteHost":
        """Create the namespace (or fall back to a second address); raise RuntimeError when neither works."""
        if shutil.which("ip") and self._namespace():
            return self
        address = second_address()
        if address:
            self.source, self.host_address, self.how = address, address, f"second address {address}"
            return self
        raise RuntimeError("no way to connect from a non-loopback address: `ip netns` failed (run as root with "
                           "iproute2 installed: `make test` installs it) and this machine has no other address")

    def _namespace(self) -> bool:
        tag = os.getpid() % 50_000
        name, outside, inside = f"sbsec{tag}", f"sbh{tag}", f"sbn{tag}"
        subnet = f"10.{200 + tag % 50}.{tag % 250}"
        if _ip("netns", "add", name).returncode != 0:
            return False
        self.namespace = name
        steps = [
            ["link", "add", outside, "type", "veth", "peer", "name", inside],
            ["link", "set", inside, "netns", name],
            ["addr", "add", f"{subnet}.1/30", "dev", outside],
            ["link", "set", outside, "up"],
            ["netns", "exec", name, "ip", "addr", "add", f"{subnet}.2/30", "dev", inside],
            ["netns", "exec", name, "ip", "link", "set", inside, "up"],
            ["netns", "exec", name, "ip", "link", "set", "lo", "up"],
        ]
        for step in steps:
            if _ip(*step).returncode != 0:
                self.stop()
                return False
        self._veth = outside
        self.host_address, self.how = f"{subnet}.1", f"network namespace {name} ({subnet}.2 -> {subnet}.1)"
        return True

    def stop(self) -> None:
        """Remove the namespace and its veth pair."""
        if self.namespace:
            _ip("netns", "del", self.namespace)
            if getattr(self, "_veth", None):
                _ip("link", "del", self._veth)
            self.namespace = None

    def request(self, method: str, port: int, path: str, body: Optional[str] = None,
                headers: Optional[dict] = None, timeout: float = 10) -> Answer:
        """One HTTP request to this machine's ``port`` from the remote address."""
        spec = {"host": self.host_address, "port": port, "method": method, "path": path, "body": body,
                "headers": headers or {}, "timeout": timeout, "source": self.source}
        command = [sys.executable, "-c", CLIENT, json.dumps(spec)]
        if self.namespace:
            command = ["ip", "netns", "exec", self.namespace, *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout + 30)
        if done.returncode != 0 or not done.stdout.strip():
            raise RuntimeError(f"remote client failed: {done.stderr[-500:]}")
        return Answer(**json.loads(done.stdout))
