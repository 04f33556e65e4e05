"""Each signature is recovered once per node: at admission, or at block validation if unseen."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import coincurve
import pytest

from chain import rlp_codec
from chain.blocks import Block, transactions_root
from chain.errors import BadSignature, InvalidBlock
from chain.genesis import Genesis
from chain.ledger import Ledger
from chain.storage import MemoryBlockStore
from chain.transactions import SenderCache, admit_many, decode_transaction
from tests.chain.ledger_helpers import fresh_ledger, publication

PUBLISHERS = ("bureau:shanghai", "bureau:nanjing", "bureau:hangzhou", "bureau:hefei")
TRANSACTIONS = 12


def signed_publications(genesis: Genesis, count: int = TRANSACTIONS) -> list[bytes]:
    """`count` publishes spread over the four bureaus, nonces in order."""
    nonces = dict.fromkeys(PUBLISHERS, 0)
    raws = []
    for index in range(count):
        label = PUBLISHERS[index % len(PUBLISHERS)]
        raws.append(publication(genesis, genesis.preset.key(label), nonces[label],
                                enterprise_index=index % len(genesis.preset.enterprises)).raw)
        nonces[label] += 1
    return raws


@pytest.fixture
def block_and_raws(genesis: Genesis) -> tuple[Block, list[bytes]]:
    proposer = fresh_ledger(genesis)
    raws = signed_publications(genesis)
    for raw in raws:
        proposer.admit(raw)
    assert proposer.senders.recoveries == TRANSACTIONS
    block = proposer.build_block(genesis.preset.genesis_timestamp_ms + 1000, "shanghai-1")
    assert len(block.transactions) == TRANSACTIONS
    proposer.append_block(block)
    assert proposer.senders.recoveries == TRANSACTIONS  # building and appending: no recovery
    return block, raws


class CountingRecover:
    """Counts every secp256k1 public-key recovery made through coincurve, by anyone."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0
        original = coincurve.PublicKey.from_signature_and_message

        def counted(*args: object, **kwargs: object) -> coincurve.PublicKey:
            self.calls += 1
            return original(*args, **kwargs)

        monkeypatch.setattr(coincurve.PublicKey, "from_signature_and_message", counted)


def test_block_of_gossiped_transactions_needs_no_recovery(
        block_and_raws: tuple[Block, list[bytes]], genesis: Genesis,
        monkeypatch: pytest.MonkeyPatch) -> None:
    block, raws = block_and_raws
    validator = fresh_ledger(genesis)
    for raw in raws:
        validator.admit(raw)
    assert validator.senders.recoveries == TRANSACTIONS
    hits = validator.senders.hits
    counter = CountingRecover(monkeypatch)
    validator.append_block(block)
    assert validator.senders.recoveries == TRANSACTIONS
    assert counter.calls == 0  # neither the ledger nor py-evm recovered a signature
    assert validator.senders.hits - hits >= TRANSACTIONS
    assert validator.head.block_hash == block.hash
    assert len(validator.mempool) == 0


def test_unknown_transactions_are_recovered_once_each_through_the_mapper(
        block_and_raws: tuple[Block, list[bytes]], genesis: Genesis,
        monkeypatch: pytest.MonkeyPatch) -> None:
    block, _ = block_and_raws
    mapped: list[int] = []
    with ThreadPoolExecutor(2) as pool:
        def mapper(function: Callable[..., object], items: Iterable[object]) -> Iterator[object]:
            batch = list(items)
            mapped.append(len(batch))
            return pool.map(function, batch)

        validator = Ledger(MemoryBlockStore(), genesis, mapper=mapper)  # type: ignore[arg-type]
        counter = CountingRecover(monkeypatch)
        validator.append_block(block)
    assert mapped == [TRANSACTIONS]
    assert validator.senders.recoveries == TRANSACTIONS
    assert counter.calls == TRANSACTIONS
    assert validator.head.block_hash == block.hash


def test_only_unseen_transactions_are_recovered(
        block_and_raws: tuple[Block, list[bytes]], genesis: Genesis) -> None:
    block, raws = block_and_raws
    validator = fresh_ledger(genesis)
    seen = raws[: TRANSACTIONS // 3]
    for raw in seen:
        validator.admit(raw)
    with ThreadPoolExecutor(2) as pool:
        validator.mapper = pool.map  # type: ignore[assignment]
        validator.append_block(block)
    assert validator.senders.recoveries == TRANSACTIONS


def test_admit_many_recovers_each_unknown_once_and_reports_the_first_bad_one(
        genesis: Genesis) -> None:
    raws = signed_publications(genesis, 6)
    transactions = [decode_transaction(raw, genesis.chain_id) for raw in raws]
    cache = SenderCache()
    cache.admit(transactions[0])
    with ThreadPoolExecutor(2) as pool:
        admitted = admit_many(cache, transactions, pool.map)  # type: ignore[arg-type]
    assert cache.recoveries == 6
    assert [a.sender for a in admitted] == [
        genesis.preset.key(PUBLISHERS[i % 4]).address for i in range(6)]
    assert admit_many(cache, transactions) == admitted
    assert cache.recoveries == 6

    broken = [transactions[0], replace(transactions[1], r=0), replace(transactions[2], s=0)]
    with pytest.raises(BadSignature) as caught:
        admit_many(SenderCache(), broken)
    assert "r must be in 1..n-1" in caught.value.message


def test_sender_cache_is_bounded_and_counts(genesis: Genesis) -> None:
    transactions = [decode_transaction(raw, genesis.chain_id)
                    for raw in signed_publications(genesis, 3)]
    cache = SenderCache(capacity=2)
    for transaction in transactions:
        cache.admit(transaction)
    assert (len(cache), cache.recoveries, cache.hits) == (2, 3, 0)
    assert cache.get(transactions[0].hash) is None
    cache.admit(transactions[2])
    assert (cache.recoveries, cache.hits) == (3, 1)
    cache.admit(transactions[0])  # evicted: recovered again
    assert cache.recoveries == 4


def test_block_with_a_bad_signature_is_refused(block_and_raws: tuple[Block, list[bytes]],
                                               genesis: Genesis) -> None:

    block, raws = block_and_raws
    fields = rlp_codec.decode(raws[0])
    assert isinstance(fields, list)
    fields[8] = b"\xff" * 32  # s above n/2
    transactions = (rlp_codec.encode(fields), *block.transactions[1:])
    bad = Block(replace(block.header, transactions_root=transactions_root(transactions)),
                transactions)
    validator = fresh_ledger(genesis)
    with pytest.raises(InvalidBlock, match="low-s"):
        validator.append_block(bad)
    assert validator.head.height == 0


def test_keys_sign_as_coincurve_and_ethereum_tooling_do() -> None:
    """`PrivateKey` signs without building coincurve's public keys: the same deterministic
    (RFC 6979), low-s signature, and the address eth_account derives."""
    import coincurve
    from eth_account import Account

    from chain.crypto import SECP256K1_HALF_ORDER, PrivateKey, keccak, recover_address

    for seed in (b"a", b"b", b"c"):
        secret = keccak(seed)
        key = PrivateKey.from_secret(secret)
        assert key.address == bytes.fromhex(Account.from_key(secret).address[2:])
        digest = keccak(b"message " + seed)
        y_parity, r, s = key.sign_hash(digest)
        expected = coincurve.PrivateKey(secret).sign_recoverable(digest, hasher=None)
        assert (r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes((y_parity,))) == expected
        assert s <= SECP256K1_HALF_ORDER
        assert recover_address(digest, y_parity, r, s) == key.address
