"""The single-process ledger demo (nodes/cli/ledger_demo.py) does on the real core what it says:
three publishes, a refused then granted consent, a query from the index and a correction."""

from __future__ import annotations

from chain.presets import get_preset
from chain.records import RecordKind
from contracts import bindings
from nodes.cli.ledger_demo import run_ledger_demo


def test_the_demo_commits_three_blocks_and_tells_each_step() -> None:
    lines: list[str] = []
    ledger = run_ledger_demo("local4", lines.append)
    assert ledger.head.height == 3
    steps = [line.split(".")[0] for line in lines if line[:1].isdigit()]
    assert steps == ["1", "2", "3", "4", "5"]
    blocks = [line for line in lines if line.startswith("  block ")]
    assert [line.split()[1] for line in blocks] == ["1", "2", "3"]
    assert "3 tx" in blocks[0] and "1 tx" in blocks[1] and "1 tx" in blocks[2]
    assert not any("reverted" in line for line in lines), lines
    authorized = [line.strip() for line in lines if line.strip().startswith("authorized:")]
    assert authorized == ["authorized: False — the node refuses the query", "authorized: True"]
    assert lines[-1] == (f"Head: height 3, state root 0x{ledger.head.state_root.hex()}")


def test_the_correction_links_a_new_version_to_the_old() -> None:
    ledger = run_ledger_demo("local4", lambda _: None)
    code = get_preset("local4").enterprise("enterprise:shanghai:1").credit_code.code
    entries = ledger.records_of(code)
    assert sorted((entry.version, entry.status) for entry in entries) == [
        (1, int(bindings.RecordStatus.CORRECTED)), (2, int(bindings.RecordStatus.ACTIVE))]
    assert {RecordKind(entry.kind) for entry in entries} == {RecordKind.TAX}
    old, new = sorted(entries, key=lambda entry: entry.version)
    assert (old.next, new.previous) == (new.record_id, old.record_id)
    assert [entry.version for entry in ledger.record_versions(new.record_id)] == [1, 2]
