"""report.html: one self-contained page a teacher can open and explain from.

The page tells the scenario in plain words (its description, the network, the traffic and each
fault on the timeline), shows the headline numbers and whether every invariant held, and
embeds the five figures as base64 PNGs with a sentence on how to read each.
"""

from __future__ import annotations

import base64
import html
from typing import Any

from simulator.faults import describe_fault
from simulator.scenario import Fault, Scenario

FAULT_WORDS = {
    "crash": "the node's process stops; its disk survives",
    "restart": "the node boots from its disk, fetches the blocks it missed and rejoins",
    "partition": "the links between the named groups of cities are cut",
    "heal": "every cut link is restored and every delay spike ends",
    "delay": "messages between the named cities take longer",
    "byzantine": "the validator starts to lie",
    "honest": "the validator behaves again",
    "clock_skew": "the node's clock is set wrong",
}

BEHAVIOUR_WORDS = {
    "equivocate": "sends different blocks to different halves of the network and votes for both",
    "invalid_votes": "proposes and votes for blocks that break the rules",
    "forge": "signs its messages with a key the consortium never admitted",
    "flood": "floods its peers with transactions whose signatures are made up",
    "silent": "stops sending anything",
}

FIGURE_NOTES = {
    "throughput.png": "Transactions committed per second. Dashed red lines mark faults. A dip "
                      "means the chain slowed down; a gap at zero means it stopped.",
    "commit_latency_cdf.png": "For each latency on the x axis, the share of transactions "
                              "committed at least that fast. A curve far to the left is good; "
                              "a long tail to the right shows transactions that waited.",
    "query_latency_heatmap.png": "Median time a bank waited for an enterprise report, by the "
                                 "bank's city (row) and the enterprise's city (column). Remote "
                                 "payloads must travel from the city that holds them.",
    "block_interval.png": "Time between two consecutive blocks (log scale). Points near the "
                          "round timeout (about a second) mean a round failed and was retried.",
    "round_changes.png": "Each dot is an honest node giving up on a round: orange on its own "
                         "timer, blue because others already moved on, green on seeing a "
                         "proposal for a later round.",
}


def _fault_sentence(fault: Fault) -> str:
    words = FAULT_WORDS.get(fault.kind, fault.kind)
    if fault.kind == "byzantine" and fault.behaviour:
        words = f"the validator {BEHAVIOUR_WORDS.get(fault.behaviour, fault.behaviour)}"
    return f"<li><code>{html.escape(describe_fault(fault))}</code> — {html.escape(words)}</li>"


def _number(value: Any, digits: int = 1) -> str:
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return html.escape(str(value))


def render_report(scenario: Scenario, metrics: dict[str, Any], plots: dict[str, bytes]) -> str:
    """The HTML page."""
    run = metrics["run"]
    tx = metrics["transactions"]
    queries = metrics["queries"]
    blocks = metrics["blocks"]
    violation = metrics["invariants"]["violation"]
    latency = tx["commit_latency_ms"]
    rows = [
        ("Validators", f"{run['validators']} (tolerates f = {run['fault_tolerance_f']} lying)"),
        ("Simulated time", f"{run['duration_s']:g} s, seed {run['seed']}"),
        ("Blocks committed", _number(blocks["height"])),
        ("Transactions committed", f"{tx['committed']:,} ({tx['throughput_per_s']:.1f}/s)"),
        ("Commit latency p50 / p99",
         f"{latency.get('p50', 0):.0f} ms / {latency.get('p99', 0):.0f} ms"),
        ("Block interval p50", f"{blocks['interval_ms'].get('p50', 0):.0f} ms"),
        ("Round changes", _number(metrics["round_changes"]["count"])),
        ("Queries served", _number(queries["outcomes"].get("served", 0))),
        ("Query latency p50", f"{queries['latency_ms'].get('p50', 0):.0f} ms"),
    ]
    table = "".join(f"<tr><th>{html.escape(k)}</th><td>{v}</td></tr>" for k, v in rows)
    if violation is None:
        verdict = ("<p class='ok'>Every invariant held: no two honest nodes committed different "
                   "blocks, state roots agreed at every height, every committed block was "
                   "certified by a quorum and held only submitted transactions, no committed "
                   "record was lost, and every served query left its audit entry "
                   f"({metrics['invariants']['checks']:,} checks).</p>")
    else:
        verdict = (f"<p class='bad'>Invariant <b>{html.escape(violation['invariant'])}</b> broke "
                   f"at {violation['time_s']:.3f} s: {html.escape(violation['detail'])}. The run "
                   "stopped there; violation.json, trace.txt and replay.toml replay it.</p>")
    verification = ("every receiver verified every consensus signature"
                    if run["verification"] == "per-node" else
                    "the cheaper shared mode was ON: each consensus broadcast was verified once "
                    "for all its receivers")
    execution = ("py-evm work was computed once per distinct block and shared between nodes"
                 if run["execution"] == "shared" else "every node ran py-evm for every block")
    modes = ("Signatures are real (Ed25519 consensus votes, secp256k1 transactions and queries); "
             f"{verification}; {execution}")
    faults = "".join(_fault_sentence(f) for f in scenario.faults) or "<li>No faults.</li>"
    workload = scenario.workload
    loss = (f", and {scenario.network.loss:.1%} of them are lost" if scenario.network.loss
            else "")
    figures = "".join(
        f"<figure><img alt='{name}' src='data:image/png;base64,"
        f"{base64.b64encode(data).decode('ascii')}'><figcaption>"
        f"{html.escape(FIGURE_NOTES.get(name, ''))}</figcaption></figure>"
        for name, data in plots.items()
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>{html.escape(scenario.name)} — yrdchain simulation</title>
<style>
body {{ font-family: sans-serif; max-width: 60rem; margin: 2rem auto; line-height: 1.5;
       color: #222; }}
th {{ text-align: left; padding-right: 2rem; }} td, th {{ border-bottom: 1px solid #ddd; }}
.ok {{ background: #e9f7ef; padding: .8rem; }} .bad {{ background: #fdedec; padding: .8rem; }}
figure {{ margin: 1.5rem 0; }} img {{ max-width: 100%; }} figcaption {{ color: #555; }}
code {{ background: #f4f4f4; }}
</style></head><body>
<h1>{html.escape(scenario.name)}</h1>
<p>{html.escape(scenario.description)}</p>
<h2>The setting</h2>
<p>Preset <b>{html.escape(scenario.preset)}</b>: {run['validators']} validator nodes of the
Yangtze River Delta credit information chain run a BFT protocol; a block is final once
{run['validators'] - run['fault_tolerance_f']} of them have signed it. Messages between cities
take the time light needs in fibre along real routes, plus jitter of about
{scenario.network.jitter_ms:g} ms{loss}.
Credit bureaus and banks of every city send about {workload.transactions_per_s:g}
transactions and {workload.queries_per_s:g} report queries per second
({workload.cross_region_share:.0%} of queries ask about an enterprise of another city).</p>
<h3>What happens</h3><ul>{faults}</ul>
<h2>Results</h2><table>{table}</table>
{verdict}
<p><small>{html.escape(modes)}.</small></p>
<h2>Figures</h2>{figures}
</body></html>
"""
