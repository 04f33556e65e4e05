"""An authenticated partner tries to fill a node's disk with payloads no record refers to.

Speaking on the target's mutual-TLS peer channel as a node that shares its payload duty (the
peer fuzzer's harness: `peer_fuzzer.exchange` with `peer_identities.Identities.valid`), it
pushes `STORE_PAYLOADS` of well-formed bytes under random record ids — more than the node may
hold for records not yet committed — and one for a committed record with bytes that are not
its payload. What must hold afterwards (`flood_partner_payloads` returns what did not):

- the node answers every push, and no more are held than its quota (`HoldLimits`);
- `/metrics`: nothing stored (`yrd_payload_pushes_stored_total` unchanged), the refusals
  counted (`yrd_payload_pushes_refused_total` moved by at least the pushes over the quota plus
  the wrong bytes), the held gauge at most the quota;
- none of the pushed bytes is on the node's disk: `RESTORE_PAYLOADS`, which a partner may ask,
  answers "not held" for every one of them.
"""

from __future__ import annotations

import random
import tempfile
from pathlib import Path

import httpx

from chain.crypto import keccak
from chain.payload_backup import shares_payload_duty
from chain.presets import Preset
from nodes.query.payload_intake import DEFAULT_HOLD_LIMITS, HoldLimits, encode_pushed
from nodes.query.payloads import encode_hashes
from nodes.runtime.channel import FrameKind, PeerMethod
from nodes.runtime.frames import decode_frames
from tests.adversarial.peer_fuzzer import PeerTarget, exchange, frame, metric, parse_frames
from tests.adversarial.peer_identities import Identities

ITEMS_PER_PUSH = 1_000
ANSWER_WINDOW_S = 3.0


def flood_partner_payloads(target: PeerTarget, target_node: str, preset: Preset, seed: int,
                           committed_record: bytes, limits: HoldLimits = DEFAULT_HOLD_LIMITS
                           ) -> list[str]:
    """Push unreferenced payloads over the quota and wrong bytes for `committed_record` to
    `target_node`; the failures (empty when the node stored none of them and counted its
    refusals)."""
    if not shares_payload_duty(preset, target.impersonated, target_node):
        raise ValueError(f"{target.impersonated} does not share the target's payload duty")
    rng = random.Random(seed)
    total = limits.max_payloads + ITEMS_PER_PUSH
    pushed = [(rng.randbytes(32), b'{"filler":"' + rng.randbytes(24).hex().encode() + b'"}')
              for _ in range(total)]
    wrong = (committed_record, b'{"not":"the committed payload"}')
    failures: list[str] = []
    with tempfile.TemporaryDirectory(prefix="yrd-payload-flood-") as directory, httpx.Client(
            timeout=10.0) as http:
        identities = Identities(preset, target.network_dir, target.impersonated, target.dialer,
                                Path(directory))
        before = http.get(f"{target.url}/metrics").text
        batches = [pushed[start:start + ITEMS_PER_PUSH]
                   for start in range(0, total, ITEMS_PER_PUSH)] + [[wrong]]
        chunks = [frame(FrameKind.REQUEST, number, bytes((PeerMethod.STORE_PAYLOADS,))
                        + encode_pushed(batch)) for number, batch in enumerate(batches, 1)]
        received = exchange(target.peer_address, identities.valid, chunks, ANSWER_WINDOW_S)
        answers = {request_id: body for kind, request_id, body in parse_frames(received or b"")
                   if kind == FrameKind.RESPONSE}
        if len(answers) != len(batches):
            failures.append(f"{len(answers)} of {len(batches)} pushes answered")
        kept = sum(int(body[1:] or b"0") for body in answers.values() if body[:1] == b"\0")
        if kept > limits.max_payloads:
            failures.append(f"{kept} pushed payloads kept, over the quota {limits.max_payloads}")
        after = http.get(f"{target.url}/metrics").text
        stored = [metric(text, "yrd_payload_pushes_stored_total") for text in (before, after)]
        refused = [metric(text, "yrd_payload_pushes_refused_total") for text in (before, after)]
        if stored[1] != stored[0]:
            failures.append(f"{stored[1] - stored[0]} pushed payloads stored")
        if refused[1] - refused[0] < total + 1 - limits.max_payloads:
            failures.append(f"refusals counted: {refused[1] - refused[0]}")
        if metric(after, "yrd_payload_pushes_held") > limits.max_payloads:
            failures.append("more payloads held than the quota")
        failures.extend(_on_disk(target, identities, [payload for _, payload in
                                                      [*pushed, wrong]]))
    return failures


def _on_disk(target: PeerTarget, identities: Identities, payloads: list[bytes]) -> list[str]:
    """Failures for pushed bytes the node holds (asked as a partner, `RESTORE_PAYLOADS`)."""
    hashes = [keccak(payload) for payload in payloads]
    chunks = [frame(FrameKind.REQUEST, number, bytes((PeerMethod.RESTORE_PAYLOADS,))
                    + encode_hashes(hashes[start:start + ITEMS_PER_PUSH]))
              for number, start in enumerate(range(0, len(hashes), ITEMS_PER_PUSH), 1)]
    received = exchange(target.peer_address, identities.valid, chunks, ANSWER_WINDOW_S)
    answers = [body for kind, _, body in parse_frames(received or b"")
               if kind == FrameKind.RESPONSE]
    if len(answers) != len(chunks) or any(body[:1] != b"\0" for body in answers):
        return [f"restore answered {len(answers)} of {len(chunks)} requests"]
    held = sum(1 for body in answers for item in decode_frames(body[1:]) if item[:1] == b"\1")
    return [f"{held} pushed payloads are on the node's disk"] if held else []
