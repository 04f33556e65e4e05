"""The institution command line and console against a real local4 network.

Publish, consent, query, trail, proof, dispute, revoke, tx and block, each as a `yrdchain`
command with `--node` and `--as` or `--key`, human and `--json`; the console as a real REPL
process reading from its standard input.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from nodes.cli.main import main
from tests.e2e.network import RunningNetwork

pytestmark = pytest.mark.slow

REPOSITORY = Path(__file__).resolve().parents[2]
ANCHOR_WAIT_S = 30.0


def run(capsys: pytest.CaptureFixture[str], *words: str) -> tuple[int, str, str]:
    """One `yrdchain` command in this process: (exit status, stdout, stderr)."""
    status = main(list(words))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def run_json(capsys: pytest.CaptureFixture[str], *words: str) -> dict[str, Any]:
    status, out, err = run(capsys, *words, "--json")
    assert status == 0, err
    document: dict[str, Any] = json.loads(out)
    return document


def test_an_institution_works_by_hand(local4: RunningNetwork,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    shanghai, hangzhou = local4.url("shanghai-1"), local4.url("hangzhou-1")
    enterprise = local4.preset.enterprise("enterprise:shanghai:1")
    code = enterprise.credit_code.code

    published = run_json(capsys, "publish", "--node", shanghai, "--as", "bureau:shanghai",
                         "--enterprise", "enterprise:shanghai:1", "--kind", "tax",
                         "--period", "2024", "--field", "paid_cny=1280000", "--field",
                         "grade=A", "--field", "late=false")
    assert published["status"] == "committed" and published["enterprise"] == code
    record_id = published["record_id"]

    status, _, err = run(capsys, "query", "--node", hangzhou, "--as", "bank:hangzhou", code)
    assert status == 1 and "403 consent_missing" in err

    granted = run_json(capsys, "grant", "--node", hangzhou, "--as", "bank:hangzhou",
                       "--enterprise", "enterprise:shanghai:1", "--days", "7")
    assert granted["status"] == "committed" and granted["enterprise"] == code

    bank_key = local4.preset.key("bank:hangzhou").secret.hex()
    report = run_json(capsys, "query", "--node", hangzhou, "--key", bank_key,
                      "enterprise:shanghai:1")
    [item] = [r for r in report["records"] if r["record_id"] == record_id]
    assert item["payload_status"] == "verified"
    assert item["payload"]["fields"] == {"paid_cny": 1280000, "grade": "A", "late": False}
    status, human, _ = run(capsys, "query", "--node", hangzhou, "--as", "bank:hangzhou", code)
    assert status == 0 and "payload verified" in human and "from shanghai-1" in human

    trail = run_json(capsys, "trail", "--node", shanghai, "--as", "enterprise:shanghai:1",
                     code)
    assert report["audit_entry"] in [entry["entry_id"] for entry in trail["entries"]]

    deadline = time.monotonic() + ANCHOR_WAIT_S
    while True:
        status, out, err = run(capsys, "proof", "--node", hangzhou, "--as", "bank:hangzhou",
                               report["audit_entry"], "--json")
        if status == 0 or time.monotonic() > deadline:
            break
        assert "not_anchored" in err
        time.sleep(0.5)
    assert status == 0 and json.loads(out)["checked_against_chain"] is True

    opened = run_json(capsys, "dispute", "open", "--node", hangzhou, "--as", "bank:hangzhou",
                      record_id, "--reason", "the amount is out of date")
    assert opened["dispute"]["status"] == "open"
    dispute_id = opened["dispute_id"]
    answered = run_json(capsys, "dispute", "respond", "--node", shanghai, "--as",
                        "bureau:shanghai", dispute_id, "--response", "re-checked")
    assert answered["dispute"]["status"] == "responded"
    decided = run_json(capsys, "dispute", "resolve", "--node", shanghai, "--as", "regulator",
                       dispute_id, "--rejected")
    assert decided["dispute"]["status"] == "rejected"
    assert run_json(capsys, "dispute", "show", "--node", hangzhou,
                    dispute_id)["status"] == "rejected"

    revoked = run_json(capsys, "revoke", "--node", hangzhou, "--as", "bank:hangzhou",
                       "--enterprise", code)
    assert revoked["status"] == "committed"
    status, _, err = run(capsys, "query", "--node", hangzhou, "--as", "bank:hangzhou", code)
    assert status == 1 and "consent_missing" in err

    transaction = run_json(capsys, "tx", "--node", hangzhou, revoked["transaction_hash"])
    assert transaction["status"] == "committed"
    assert transaction["block_height"] == revoked["block_height"]
    status, human, _ = run(capsys, "tx", "--node", hangzhou, revoked["transaction_hash"])
    assert status == 0 and "committed" in human
    block = run_json(capsys, "block", "--node", hangzhou, str(revoked["block_height"]))
    assert revoked["transaction_hash"] in block["transactions"]
    status, human, _ = run(capsys, "block", "--node", hangzhou)
    assert status == 0 and "state_root" in human


def test_bad_input_is_a_clear_message_and_changes_nothing(
        local4: RunningNetwork, capsys: pytest.CaptureFixture[str]) -> None:
    shanghai = local4.url("shanghai-1")
    height = int(local4.status("shanghai-1")["height"])
    mempool = int(local4.status("shanghai-1")["mempool"])
    for words, expected in (
        (["publish", "--as", "nobody", "--enterprise", "enterprise:shanghai:1", "--kind", "tax",
          "--period", "2024"], "has no account 'nobody'"),
        (["publish", "--as", "bureau:shanghai", "--enterprise", "enterprise:shanghai:1",
          "--kind", "horoscope", "--period", "2024"], "horoscope"),
        (["publish", "--key", "0x1234", "--enterprise", "enterprise:shanghai:1", "--kind",
          "tax", "--period", "2024"], "32 bytes"),
        (["query", "--as", "bank:hangzhou", "not-a-code"], "neither a credit code"),
        (["tx", "0xabcd"], "32 bytes"),
        (["tx", "0xzz"], "hex digits"),
    ):
        status, out, err = run(capsys, *words, "--node", shanghai)
        assert status == 2 and expected in err and out == "", (words, err)
    status, _, err = run(capsys, "publish", "--as", "bank:hangzhou", "--enterprise",
                         "enterprise:shanghai:1", "--kind", "tax", "--period", "2024",
                         "--node", shanghai)
    assert status == 1 and "missing_role" in err
    assert int(local4.status("shanghai-1")["mempool"]) == mempool
    assert int(local4.status("shanghai-1")["height"]) >= height
    status, _, err = run(capsys, "block", "--node", "http://127.0.0.1:9")
    assert status == 1 and "cannot reach" in err


def test_console_is_a_repl_with_client_and_identities(local4: RunningNetwork) -> None:
    hangzhou = local4.url("hangzhou-1")
    bank = local4.preset.key("bank:hangzhou").address
    lines = ["print('preset', preset.name, node.status()['node_id'])",
             "print('bank', institution('bank:hangzhou').address.hex())",
             "print('accounts', len(accounts))",
             "bureau = institution('bureau:hangzhou')",
             "code = preset.enterprise('enterprise:hangzhou:1').credit_code",
             "done = bureau.publish(CreditRecord(code, RecordKind.UTILITIES, '2024', "
             "{'arrears': False}))",
             "print('status', node.wait_committed(done.transaction_hash)['status'])"]
    completed = subprocess.run(
        [sys.executable, "-m", "nodes.cli.main", "console", "--node", hangzhou],
        input="\n".join(lines) + "\n", capture_output=True, text=True, timeout=120,
        cwd=REPOSITORY, env=dict(os.environ, PYTHONPATH=str(REPOSITORY)))
    assert completed.returncode == 0, completed.stderr
    assert "yrdchain console" in completed.stderr  # the banner, as `python -i` prints it
    out = completed.stdout
    assert "preset local4 hangzhou-1" in out and f"bank {bank.hex()}" in out
    assert "status committed" in out
    assert "Traceback" not in completed.stderr
    scripted = subprocess.run(
        [sys.executable, "-m", "nodes.cli.main", "console", "--node", hangzhou, "-c",
         "print(genesis.contracts.registry.hex() == node.contracts().registry.hex())"],
        capture_output=True, text=True, timeout=120, cwd=REPOSITORY,
        env=dict(os.environ, PYTHONPATH=str(REPOSITORY)))
    assert scripted.returncode == 0 and scripted.stdout.strip() == "True", scripted.stderr
