"""Separate hosts on one machine: Linux network namespaces joined by veth pairs to one bridge.

`isolated_hosts(names)` makes one namespace per host name, each with one interface and one
address in 10.200.0.0/24, plus a switch namespace holding the bridge. The addresses exist only
inside the namespaces (the machine's own namespace gets none), so a process that assumes
loopback or one host cannot reach its peers. Each namespace gets its own `/etc/hosts` naming
every host (`ip netns exec` mounts `/etc/netns/<namespace>/hosts` over `/etc/hosts`), as DNS
would on real machines. Everything is removed on exit, processes started inside included.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

SUBNET_PREFIX = "10.200.0."
SUBNET_BITS = 24
FIRST_HOST = 10  # 10.200.0.10, .11, ...
COMMAND_TIMEOUT_S = 20
NETNS_ETC = Path("/etc/netns")  # per-namespace files `ip netns exec` mounts over /etc


class NamespacesUnavailable(RuntimeError):
    """`ip netns` is missing or not permitted here (not root, or a container without it)."""


@dataclass(frozen=True, slots=True)
class Host:
    """One namespace with its address and the name the other hosts know it by."""

    namespace: str
    address: str
    name: str

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
        shutil.rmtree(NETNS_ETC / namespace, ignore_errors=True)
        listed = subprocess.run(["ip", "netns", "pids", namespace], capture_output=True,
                                text=True, timeout=COMMAND_TIMEOUT_S, check=False)
        for pid in listed.stdout.split():
            with suppress(ProcessLookupError):
                os.kill(int(pid), signal.SIGKILL)
        subprocess.run(["ip", "netns", "del", namespace], capture_output=True, check=False,
                       timeout=COMMAND_TIMEOUT_S)
    with suppress(OSError):
        NETNS_ETC.rmdir()  # only when empty: other namespaces' files stay


@contextmanager
def isolated_hosts(names: list[str]) -> Iterator[list[Host]]:
    """One host per name on one bridge; NamespacesUnavailable before anything is made."""
    check_available()
    tag = f"yrd{os.getpid() % 100_000}"
    switch = f"{tag}-sw"
    hosts = [Host(f"{tag}-h{index}", f"{SUBNET_PREFIX}{FIRST_HOST + index}", name)
             for index, name in enumerate(names)]
    hosts_file = "127.0.0.1 localhost\n" + "".join(
        f"{host.address} {host.name}\n" for host in hosts)
    made = [switch]
    try:
        _ip("netns", "add", switch)
        _ip("-n", switch, "link", "add", "br0", "type", "bridge")
        _ip("-n", switch, "link", "set", "br0", "up")
        for index, host in enumerate(hosts):
            _ip("netns", "add", host.namespace)
            made.append(host.namespace)
            (NETNS_ETC / host.namespace).mkdir(parents=True, exist_ok=True)
            (NETNS_ETC / host.namespace / "hosts").write_text(hosts_file, encoding="utf-8")
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
