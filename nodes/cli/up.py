"""`yrdchain up`: start a whole network of node processes and keep it up until stopped.

It says how far the start has got (a bar on a terminal, one line per node otherwise), then the
node table and the development accounts with their keys (as `hardhat node` does), and stays up
until Ctrl-C or SIGTERM; either stops every node and the supervisor, and removes
`supervisor.json`. A node that exits on its own is reported with the command that restarts it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path

from chain.presets import Preset
from nodes.cli.progress import Progress
from nodes.cluster.keys import describe_keys
from nodes.cluster.running import RunningNetwork, start_network
from nodes.cluster.stop_signals import terminate_as_interrupt

Printer = Callable[[str], None]
WATCH_INTERVAL_S = 1.0


def print_accounts(preset: Preset, say: Printer = print) -> None:
    """The development accounts of the preset: label, address, private key, name."""
    described = describe_keys(preset)
    say("Accounts (development keys of the preset: never use them on a real network)")
    for institution in described["institutions"]:
        say(f"  {institution['label']:<24} {institution['address']}  "
            f"{institution['private_key']}  {institution['name']}")
    for enterprise in described["enterprises"]:
        say(f"  {enterprise['label']:<24} {enterprise['address']}  "
            f"{enterprise['private_key']}  {enterprise['credit_code']}")
    contracts = described["contracts"]
    say("Contracts: " + ", ".join(f"{name} {address}" for name, address in contracts.items()))


def _announce(network: RunningNetwork, latency: str, say: Printer) -> None:
    preset = network.preset
    say(f"yrdchain {preset.name}: {len(network.nodes)} nodes up (chain id {preset.chain_id}, "
        f"latency {latency}); data in {network.data_dir}, logs in {network.log_dir}")
    say(f"{'node':<14} {'city':<11} url")
    for node in network.nodes:
        say(f"{node.node_id:<14} {preset.node(node.node_id).city.title:<11} {node.url}")
    print_accounts(preset, say)
    if network.supervisor is not None:
        say(f"control: the dashboard may stop and restart nodes (supervisor at "
            f"{network.supervisor.url}); open {network.nodes[0].url}/dashboard#control="
            f"{network.members[0].config.control_token}")
    say("Ctrl-C or SIGTERM stops every node.")


def _watch(network: RunningNetwork, say: Printer) -> None:
    while True:
        for member in network.members:
            requested = network.supervisor is not None and (
                member.config.node_id in network.supervisor.stopped_on_request)
            if requested:
                continue
            if member.process is not None and member.process.poll() is not None:
                say(f"{member.config.node_id} exited ({member.process.returncode}); "
                    f"restart it with: yrdchain node --config {member.config_path}")
                member.process = None
        time.sleep(WATCH_INTERVAL_S)


def run_network(preset: Preset, data_dir: Path, base_port: int, latency: str,
                control: bool, supervisor_port: int = 0, say: Printer = print,
                execution: str = "native", read_workers: int | Mapping[str, int] = 0) -> int:
    """Start the network, print its table and accounts, and stay up until stopped."""
    say(f"yrdchain up {preset.name}: starting {len(preset.nodes)} nodes on ports "
        f"{base_port}..{base_port + len(preset.nodes) - 1}")
    progress = Progress("nodes answering", len(preset.nodes), say)
    try:
        with terminate_as_interrupt(), start_network(
                preset, data_dir, base_port, latency, control, supervisor_port,
                on_ready=progress.ready, execution=execution,
                read_workers=read_workers) as network:
            progress.done("every node answers /status")
            _announce(network, latency, say)
            try:
                _watch(network, say)
            finally:
                say("stopping…")
    except KeyboardInterrupt:
        pass
    except (RuntimeError, OSError) as failed:  # a port in use, a node that would not start
        say(f"error: {failed} (node logs in {data_dir / 'logs'})")
        say("all nodes stopped")
        return 1
    say("all nodes stopped")
    return 0
