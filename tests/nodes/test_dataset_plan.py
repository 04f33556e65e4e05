"""The data set's signed batches and the import's windows, without a network."""

from __future__ import annotations

from chain.crypto import keccak
from chain.genesis import build_genesis
from chain.presets import get_preset
from chain.transactions import Transaction, decode_transaction, recover_sender
from contracts import bindings
from nodes.cli.progress import RateProgress
from nodes.dataset.offline_import import BLOCK_BYTES
from nodes.dataset.plan import BATCH_ITEMS, DatasetPlan, DatasetSize, Submission, make_plan
from nodes.dataset.signing import interleaved, windows

PRESET = get_preset("local4")


def _plan(enterprises: int = 150, records: int = 700, granted: int = 100,
          seed: int = 3) -> DatasetPlan:
    return make_plan(PRESET, build_genesis(PRESET).contracts,
                     DatasetSize("t", enterprises, records, granted), seed)


def _decoded(submission: Submission) -> Transaction:
    return decode_transaction(submission.raw, PRESET.chain_id)


def _all(plan: DatasetPlan) -> list[Submission]:
    submissions: list[Submission] = []
    for city in plan.cities():
        submissions += plan.registrations(city, 0)
        submissions += plan.grants(city, 0)
        submissions += plan.publishes(city, plan.registration_count(city))
    return submissions


def test_batches_are_seeded_signed_by_their_sender_and_cover_the_data_set() -> None:
    plan = _plan()
    submissions = _all(plan)
    assert [s.raw for s in submissions] == [s.raw for s in _all(_plan())]
    assert [s.raw for s in submissions] != [s.raw for s in _all(_plan(seed=4))]
    for submission in submissions:
        transaction = _decoded(submission)
        assert recover_sender(transaction) == PRESET.key(submission.sender).address
        assert transaction.nonce == submission.nonce
        assert 0 < submission.units <= BATCH_ITEMS
        function = bindings.function_for(transaction.data).name
        assert function == {"bureau": "register_enterprise_batch" if not submission.payloads
                            else "publish_batch", "bank": "grant_batch"}[
            submission.sender.split(":")[0]]
    by_function: dict[str, int] = {}
    for submission in submissions:
        name = bindings.function_for(_decoded(submission).data).name
        by_function[name] = by_function.get(name, 0) + submission.units
    assert by_function == {"register_enterprise_batch": 150, "grant_batch": 100,
                           "publish_batch": 700}
    # a sender's nonces are consecutive: registrations first, then its publishes
    for city in plan.cities():
        bureau = [s.nonce for s in submissions if s.sender == f"bureau:{city}"]
        assert bureau == list(range(len(bureau)))


def test_a_publish_batch_carries_the_payloads_its_calldata_hashes() -> None:
    plan = _plan()
    publish = next(plan.publishes(plan.cities()[0], 0))
    hashes = [keccak(payload) for payload in publish.payloads]
    assert len(hashes) == publish.units == BATCH_ITEMS
    data = _decoded(publish).data
    assert all(digest in data for digest in hashes)
    assert publish.path == "/v1/records"
    assert publish.document()["payloads"][0] == publish.payloads[0].decode("utf-8")


def test_windows_stay_under_the_block_limit_and_keep_each_senders_order() -> None:
    plan = _plan(enterprises=400, records=12_000, granted=400)
    streams = [plan.publishes(city, 0) for city in plan.cities()]
    mixed = list(interleaved(*streams))
    grouped = list(windows(iter(mixed), BLOCK_BYTES))
    assert len(grouped) > 1
    assert all(sum(len(s.raw) for s in window) <= BLOCK_BYTES for window in grouped)
    assert [s.raw for window in grouped for s in window] == [s.raw for s in mixed]
    for city in plan.cities():
        nonces = [s.nonce for s in mixed if s.city == city]
        assert nonces == sorted(nonces)


def test_rate_progress_says_rate_and_time_left_off_a_terminal() -> None:
    lines: list[str] = []
    progress = RateProgress("imported", "items", say=lines.append)
    progress.update(10, 100)  # within the first interval: nothing yet
    progress.update(100, 100)
    progress.done()
    assert len(lines) == 1
    assert lines[0].startswith("  imported: 100/100 items, ") and "/s" in lines[0]
    assert "ETA 0 s" in lines[0]
