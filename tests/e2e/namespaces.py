"""Separate hosts on one machine: Linux network namespaces joined by veth pairs to one bridge.

`isolated_hosts(count)` makes `count` namespaces, each with one interface and one address in
10.200.0.0/24, plus a switch namespace holding the bridge. The addresses exist only inside the
namespaces (the machine's own namespace gets none), so a process that assumes loopback or one
host cannot reach its peers. Everything is removed on exit, processes started inside included.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass

SUBNET_PREFIX = "10.200.0."
SUBNET_BITS = 24
FIRST_HOST = 10  # 10.200.0.10, .11, ...
COMMAND_TIMEOUT_S = 20


class NamespacesUnavailable(RuntimeError):
    """`ip netns` is missing or not permitted here (not root, or a container without it)."""


@dataclass(frozen=True, slots=True)
class Host:
    """One namespace with its address."""

    namespace: str
    address: str

    def command(self, *argv: str) -> list[str]:
        """`argv` run inside this host's namespace."""
        return ["ip", "netns", "exec", self.namespace, *argv]


def _ip(*argv: str) -> None:
    subprocess.run(["ip", *argv], check=True, capture_output=True, timeout=COMMAND_TIMEOUT_S)


def check_available() -> None:
    """NamespacesUnavailable with the reason when namespaces cannot be made here."""
    if shutil.which("ip") is None:
        raise NamespacesUnavailable("the `ip` command (iproute2) is not installed")
    probe = f"yrdprobe{os.getpid() % 100_000}"
    made = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True,
                          timeout=COMMAND_TIMEOUT_S, check=False)
    if made.returncode != 0:
        raise NamespacesUnavailable(f"`ip netns add` is not permitted: {made.stderr.strip()}")
    subprocess.run(["ip", "netns", "del", probe], capture_output=True, check=False,
                   timeout=COMMAND_TIMEOUT_S)


def _remove(namespaces: list[str]) -> None:
    """Stop whatever still runs inside the namespaces, then delete them (veths go with them)."""
    for namespace in namespaces:
        listed = subprocess.run(["ip", "netns", "pids", namespace], capture_output=True,
                                text=True, timeout=COMMAND_TIMEOUT_S, check=False)
        for pid in listed.stdout.split():
            with suppress(ProcessLookupError):
                os.kill(int(pid), signal.SIGKILL)
        subprocess.run(["ip", "netns", "del", namespace], capture_output=True, check=False,
                       timeout=COMMAND_TIMEOUT_S)


@contextmanager
def isolated_hosts(count: int) -> Iterator[list[Host]]:
    """`count` hosts on one bridge; NamespacesUnavailable before anything is made."""
    check_available()
    tag = f"yrd{os.getpid() % 100_000}"
    switch = f"{tag}-sw"
    hosts = [Host(f"{tag}-h{index}", f"{SUBNET_PREFIX}{FIRST_HOST + index}")
             for index in range(count)]
    made = [switch]
    try:
        _ip("netns", "add", switch)
        _ip("-n", switch, "link", "add", "br0", "type", "bridge")
        _ip("-n", switch, "link", "set", "br0", "up")
        for index, host in enumerate(hosts):
            _ip("netns", "add", host.namespace)
            made.append(host.namespace)
            inside, outside = f"{tag}h{index}", f"{tag}s{index}"
            _ip("link", "add", inside, "type", "veth", "peer", "name", outside)
            _ip("link", "set", inside, "netns", host.namespace)
            _ip("link", "set", outside, "netns", switch)
            _ip("-n", switch, "link", "set", outside, "master", "br0", "up")
            _ip("-n", host.namespace, "addr", "add", f"{host.address}/{SUBNET_BITS}",
                "dev", inside)
            _ip("-n", host.namespace, "link", "set", inside, "up")
            _ip("-n", host.namespace, "link", "set", "lo", "up")
        yield hosts
    finally:
        _remove(made)


def namespaces_left(tag_prefix: str = "yrd") -> list[str]:
    """Namespaces whose name starts with `tag_prefix` (what a test must not leave behind)."""
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True,
                            timeout=COMMAND_TIMEOUT_S, check=False)
    return [line.split()[0] for line in listed.stdout.splitlines()
            if line.startswith(tag_prefix)]
