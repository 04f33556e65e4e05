"""`yrdchain up`: start a whole network of node processes and keep it up until Ctrl-C."""

from __future__ import annotations

import time
from pathlib import Path

from chain.presets import Preset
from nodes.cluster.network import print_table, start_node, stop_node, wait_ready, write_network
from nodes.cluster.supervisor import Supervisor


def run_network(preset: Preset, data_dir: Path, base_port: int, latency: str,
                control: bool) -> int:
    """Start the network, print its table, and stay up until Ctrl-C."""
    network = write_network(preset, data_dir, base_port, latency, control)
    log_dir = data_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    for member in network:
        start_node(member, log_dir)
    supervisor = None
    if control:
        supervisor = Supervisor(network, data_dir, log_dir)
        supervisor.serve()
    try:
        wait_ready(network)
        print(f"yrdchain {preset.name}: {len(network)} nodes up (latency {latency}); "
              f"data in {data_dir}, logs in {log_dir}")
        print_table(network)
        if supervisor is not None:
            print(f"control: the dashboard may stop and restart nodes (supervisor at "
                  f"{supervisor.url}); open {network[0].config.url}/dashboard#control="
                  f"{network[0].config.control_token}")
        print("Ctrl-C stops every node.")
        while True:
            for member in network:
                requested = supervisor is not None and (
                    member.config.node_id in supervisor.stopped_on_request)
                if requested:
                    continue
                if member.process is not None and member.process.poll() is not None:
                    print(f"{member.config.node_id} exited ({member.process.returncode}); "
                          f"restart it with: yrdchain node --config {member.config_path}")
                    member.process = None
            time.sleep(1.0)
    except KeyboardInterrupt:
        print("stopping…")
        return 0
    finally:
        if supervisor is not None:
            supervisor.close()
        for member in network:
            stop_node(member)
