"""The ledger: admit transactions, build and validate blocks, append them, and read the chain.

`append_block` validates, executes and compares roots, and only then writes the block, its
receipts, state and index entries in one atomic store commit: an invalid block changes nothing.
Each block's execution result is kept by block hash between validation and commit, so a node
executes a block once whether it proposed it or voted for it.

Signatures: every transaction is verified once per node. Admission records the sender in the
`SenderCache`; block validation looks senders up there and recovers (in parallel, through the
caller's `mapper`) only transactions it has never seen.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from chain.admission import check_nonce, check_transaction
from chain.blocks import (
    MAX_BLOCK_TRANSACTIONS,
    Block,
    BlockHeader,
    decode_block,
    encode_block,
    transactions_root,
)
from chain.call_admission import (
    GRANT_FUNCTIONS,
    RECORD_FUNCTIONS,
    GrantSignerCache,
    GrantState,
    check_credit_codes,
    check_grant_claim,
    decode_arguments,
    grant_claim,
)
from chain.chain_time import (
    DRIFT_MS_BEHIND,
    check_timestamp_drift,
    check_timestamp_order,
    proposal_timestamp,
)
from chain.codec import (
    ChainHead,
    Member,
    RecordEntry,
    decode_head,
    decode_location,
    decode_member,
    decode_receipts,
    decode_record_entry,
    encode_head,
    encode_receipt,
    encode_receipts_of,
)
from chain.crypto import Address, keccak
from chain.engine import publishers
from chain.engine import set_hash as lthash
from chain.engine.executor import NativeExecutor, is_member_contract, load_commitment
from chain.engine.limits import MEMBER_BLOCK_GAS_LIMIT, MEMBER_TRANSACTION_GAS_LIMIT
from chain.engine.tables import KEYS, RECORDS
from chain.errors import InvalidBlock, NotFound, YrdError
from chain.execution import (
    AccountView,
    BlockEnvironment,
    CallResult,
    ExecutionResult,
    Executor,
    PyEvmExecutor,
    Receipt,
)
from chain.genesis import NATIVE_ENGINE, Genesis, system_addresses
from chain.indexer import (
    MEMBER_PREFIX,
    RECORD_PREFIX,
    TRANSACTION_PREFIX,
    BlockEvent,
    TransactionHashAt,
    block_transactions_key,
    decode_block_events,
    enterprise_key,
    enterprise_rows_prefix,
    index_block,
    record_entry_of_row,
    record_ids_of_chunks,
    transaction_hash_in,
)
from chain.mempool import MAX_NONCE_AHEAD, GrantKey, Mempool
from chain.merkle import merkle_root
from chain.speculation import Speculation, speculation_key
from chain.storage import BlockStore, StoreCommit
from chain.transactions import (
    MAX_TRANSACTION_GAS,
    AdmittedTransaction,
    Mapper,
    SenderCache,
    Transaction,
    admit_many,
    decode_transaction,
)
from contracts import bindings

EXECUTED_BLOCKS_KEPT = 64  # proposals executed but not yet committed (several rounds' worth)
RECENT_BLOCKS_KEPT = 64  # committed blocks kept decoded, with receipts (clients poll receipts)
ZERO_ADDRESS = b"\0" * 20
ROWS_PER_SCAN = 10_000  # rows read at a time when the set hash is recomputed


def executor_for(genesis: Genesis) -> Executor:
    """The executor of the genesis's engine: native handlers, or py-evm for the reference."""
    if genesis.engine == NATIVE_ENGINE:
        return NativeExecutor(system_addresses(genesis.contracts))
    return PyEvmExecutor()


def check_tables(store: BlockStore, state_root: bytes) -> None:
    """Recompute the set hash of every table row and compare it with the state root's.

    InvalidBlock when they differ: a row was changed, added or removed behind the ledger's back.
    """
    expected = load_commitment(store, state_root).set_hash
    found = lthash.empty()
    start = b""
    while True:
        rows = store.scan_rows(b"", ROWS_PER_SCAN, start)
        found = lthash.set_hash_of(rows, found)
        if len(rows) < ROWS_PER_SCAN:
            break
        start = rows[-1][0] + b"\0"  # the next key after the last one read
    if found != expected:
        raise InvalidBlock("the store is damaged: its table rows do not match the head's state "
                           f"root (set hash digest 0x{lthash.digest(found).hex()}, the root "
                           f"commits to 0x{lthash.digest(expected).hex()})")


@dataclass(frozen=True, slots=True)
class CommittedBlock:
    """What an append changed, for the node to announce and index."""

    block: Block
    receipts: tuple[Receipt, ...]
    admitted: tuple[AdmittedTransaction, ...]
    events: tuple[BlockEvent, ...] = ()
    """The block's contract events, decoded once (chain.indexer.decode_block_events)."""


class Ledger:
    """One node's view of the chain over a `BlockStore`."""

    def __init__(self, store: BlockStore, genesis: Genesis,
                 sender_cache: SenderCache | None = None, mapper: Mapper | None = None,
                 executor: Executor | None = None) -> None:
        self.store = store
        self.genesis = genesis
        self.chain_id = genesis.chain_id
        self.contracts = genesis.contracts
        self.senders = sender_cache or SenderCache()
        self.mapper = mapper
        self.executor: Executor = executor or executor_for(genesis)
        self.mempool = Mempool()
        self.grant_signers = GrantSignerCache()
        self._executed: OrderedDict[bytes, tuple[ExecutionResult, tuple[
            AdmittedTransaction, ...], tuple[bytes, ...]]] = OrderedDict()
        self._recent: OrderedDict[int, tuple[Block, tuple[Receipt, ...]]] = OrderedDict()
        self._speculation: Speculation | None = None
        self.speculations = {"executed": 0, "reused": 0}  # blocks executed ahead, and reused
        self._recent_hashes: OrderedDict[int, bytes] = OrderedDict()
        """The transaction hashes of the recent blocks, as the index's `H` entries hold them."""
        self._publishers: dict[int, Address] = {}
        """Publisher numbers read so far (a number is never reassigned)."""
        self._ready: tuple[tuple[int, int, int] | None, int] = (None, 0)
        self.admission_clock_ms: Callable[[], int] | None = None
        """The node's chain clock (`Clock.chain_ms`), read at admission only: a grant that expired
        more than `DRIFT_MS_BEHIND` before it is expired in any block a validator would accept
        next, even while the head is old (genesis's 2020 before a network's first block).
        Block validation never reads it."""
        self._nonces: dict[Address, int] = {}
        self.members: dict[Address, Member] = {}
        self.member_contracts: Callable[[Address], bool] | None = None
        self.records_in_tables = genesis.engine == NATIVE_ENGINE
        """The tables hold every record version; the index only their transactions
        (`chain.indexer`)."""
        if genesis.engine == NATIVE_ENGINE:
            self.member_contracts = lambda address: is_member_contract(store, address)
        raw_head = store.load_head()
        if raw_head is None:
            self._commit(genesis.block, genesis.result, (),
                         tuple(encode_receipt(r) for r in genesis.result.receipts))
        else:
            self.head = decode_head(raw_head)
            stored = store.load_block(0)
            if stored is None or decode_block(stored).hash != genesis.block.hash:
                raise InvalidBlock("the store holds another chain: its genesis differs")
            last = store.load_block(self.head.height)
            if last is None or decode_block(last).hash != self.head.block_hash or (
                    store.load_state_node(self.head.state_root) is None):
                raise InvalidBlock(f"the store is damaged: its head block {self.head.height} "
                                   "or its state root is missing")
            if genesis.engine == NATIVE_ENGINE:
                check_tables(store, self.head.state_root)
            self.members = {
                key[1:]: decode_member(value)
                for key, value in store.scan_index(MEMBER_PREFIX, 1 << 30)
            }

    # Admission ---------------------------------------------------------------------------

    def decode(self, raw: bytes) -> Transaction:
        """Stateless checks: size, envelope, fields, chain id."""
        return decode_transaction(raw, self.chain_id)

    def admit(self, raw: bytes) -> AdmittedTransaction:
        """Full admission into the mempool: stateless, signature (once), member, role, nonce."""
        return self.enqueue(self.senders.admit(self.decode(raw)))

    def enqueue(self, admitted: AdmittedTransaction) -> AdmittedTransaction:
        """Queue a transaction whose signature was already verified, after the stateful checks."""
        grant = self.check_admissible(admitted)
        self.mempool.add(admitted, self.next_nonce, self.head.timestamp_ms, grant)
        return admitted

    def check_admissible(self, admitted: AdmittedTransaction) -> GrantKey | None:
        """Stateful checks against the committed state and the pending queue, then the call's
        arguments (chain.call_admission) for the system contracts. Returns the enterprise grant
        nonce a grant or revocation spends."""
        function = check_transaction(admitted, self.members, self.contracts,
                                     self.member_contracts)
        committed = self.next_nonce(admitted.sender)
        check_nonce(admitted, committed, max_ahead=MAX_NONCE_AHEAD)
        if function is None:  # a member's contract: its own code checks its arguments
            return None
        data = admitted.transaction.data
        if function.name in RECORD_FUNCTIONS:
            check_credit_codes(function.name, data)
            return None
        if function.name not in GRANT_FUNCTIONS:
            return None
        claim = grant_claim(function.name, decode_arguments(function, data), admitted.sender,
                            self.chain_id, self.contracts.authorization)
        assert claim is not None
        signer = self.grant_signers.signer(claim)
        chain_time_ms = self.head.timestamp_ms
        if self.admission_clock_ms is not None:
            chain_time_ms = max(chain_time_ms, self.admission_clock_ms() - DRIFT_MS_BEHIND)
        check_grant_claim(claim, signer, GrantState(
            key=self.enterprise_key(claim.enterprise),
            next_nonce=self.pending_grant_nonce(claim.enterprise),
            chain_time_s=chain_time_ms // 1000))
        return claim.enterprise, claim.nonce

    def enterprise_key(self, enterprise: bytes) -> Address | None:
        """The enterprise's registered key at the head; None when it has none."""
        output = self.call(self.contracts.authorization,
                           bindings.encode_enterprise_key(enterprise)).output
        key = bindings.decode_address(output)
        return None if key == ZERO_ADDRESS else key

    def pending_grant_nonce(self, enterprise: bytes) -> int:
        """The grant nonce the enterprise's next signature must carry, pending grants counted."""
        committed = bindings.decode_uint(self.call(
            self.contracts.authorization, bindings.encode_grant_nonce_of(enterprise)).output)
        return self.mempool.pending_grant_nonce(enterprise, committed)

    def ready_transactions(self, limit: int = MAX_BLOCK_TRANSACTIONS) -> int:
        """Pending transactions a block could hold now (gapped ones are not work), at most
        `limit`: what the node reports to consensus as TransactionsPending. Counted again only
        when the mempool or the committed nonces changed since the last count."""
        key = (self.mempool.revision, self.head.height, limit)
        if self._ready[0] != key:
            self._ready = (key, self.mempool.ready_count(self.next_nonce, limit))
        return self._ready[1]

    def next_nonce(self, sender: Address) -> int:
        """The sender's nonce after the last committed block."""
        nonce = self._nonces.get(sender)
        if nonce is None:
            nonce = self.account(sender).nonce
            self._nonces[sender] = nonce
        return nonce

    def pending_nonce(self, sender: Address) -> int:
        """The next nonce counting pending transactions (eth_getTransactionCount 'pending')."""
        return self.mempool.pending_nonce(sender, self.next_nonce(sender))

    # Blocks ------------------------------------------------------------------------------

    def _environment(self, height: int, timestamp_ms: int) -> BlockEnvironment:
        return BlockEnvironment(height=height, timestamp_ms=timestamp_ms, coinbase=ZERO_ADDRESS,
                                chain_id=self.chain_id)

    def build_block(self, timestamp_ms: int, proposer: str,
                    limit: int = MAX_BLOCK_TRANSACTIONS) -> Block:
        """Propose a block of pending transactions on top of the head, executed once."""
        chosen = self._still_admissible(self.mempool.select(self.next_nonce, limit))
        timestamp_ms = proposal_timestamp(timestamp_ms, self.head.timestamp_ms)
        result, receipts = self._execute(self.head.height + 1, timestamp_ms, chosen)
        header = BlockHeader(
            height=self.head.height + 1,
            parent_hash=self.head.block_hash,
            timestamp_ms=timestamp_ms,
            proposer=proposer,
            transactions_root=transactions_root([a.transaction.raw for a in chosen]),
            state_root=result.state_root,
            receipts_root=merkle_root(receipts),
            gas_used=result.gas_used,
        )
        block = Block(header, tuple(a.transaction.raw for a in chosen))
        self._remember(block.hash, result, tuple(chosen), receipts)
        return block

    def speculate(self, timestamp_ms: int) -> int:
        """Execute now the block this node would build at `timestamp_ms` (`chain.speculation`),
        for a proposal of the same transactions in the same order at the same second to reuse;
        how many transactions it holds (0: nothing pending, or a block of this height is already
        built or validated here)."""
        if self._executed:
            return 0
        chosen = self._still_admissible(self.mempool.select(self.next_nonce,
                                                            MAX_BLOCK_TRANSACTIONS))
        if not chosen:
            return 0
        height = self.head.height + 1
        timestamp_ms = proposal_timestamp(timestamp_ms, self.head.timestamp_ms)
        self._speculation = None
        result, receipts = self._execute(height, timestamp_ms, chosen)
        self._speculation = Speculation(
            speculation_key(self.head.block_hash, height, timestamp_ms, chosen), result, receipts)
        self.speculations["executed"] += 1
        return len(chosen)

    def _execute(self, height: int, timestamp_ms: int,
                 admitted: Sequence[AdmittedTransaction]) -> tuple[ExecutionResult,
                                                                   tuple[bytes, ...]]:
        """The next block's execution and its encoded receipts: the one done ahead when it is
        this block (used once, `chain.speculation`), else done now."""
        ahead = self._speculation
        if ahead is not None and ahead.key == speculation_key(self.head.block_hash, height,
                                                              timestamp_ms, admitted):
            self._speculation = None
            self.speculations["reused"] += 1
            return ahead.result, ahead.receipts
        result = self.executor.execute_block(self.store, self.head.state_root,
                                             self._environment(height, timestamp_ms), admitted)
        return result, tuple(encode_receipt(r) for r in result.receipts)

    def _still_admissible(self, candidates: Sequence[AdmittedTransaction]) -> list[
            AdmittedTransaction]:
        chosen: list[AdmittedTransaction] = []
        expected: dict[Address, int] = {}
        member_gas = 0
        for admitted in candidates:
            nonce = expected.get(admitted.sender, self.next_nonce(admitted.sender))
            gas = self._member_gas(admitted)
            try:
                check_transaction(admitted, self.members, self.contracts, self.member_contracts)
                check_nonce(admitted, nonce)
            except YrdError:
                continue
            if member_gas + gas > MEMBER_BLOCK_GAS_LIMIT:
                continue  # and so are this sender's later transactions: their nonce is ahead
            member_gas += gas
            expected[admitted.sender] = nonce + 1
            chosen.append(admitted)
        return chosen

    def _remember(self, block_hash: bytes, result: ExecutionResult,
                  admitted: tuple[AdmittedTransaction, ...], receipts: tuple[bytes, ...]) -> None:
        """Keep an executed block with its encoded receipts (encoded once: for the receipts
        root here and for the store at commit)."""
        self._executed[block_hash] = (result, admitted, receipts)
        while len(self._executed) > EXECUTED_BLOCKS_KEPT:
            self._executed.popitem(last=False)

    def validate_proposal(self, block: Block, clock_ms: int) -> ExecutionResult:
        """Check a freshly proposed block before voting on it: its timestamp within the drift of
        this validator's clock (`chain.chain_time`), then everything `validate_block` checks."""
        check_timestamp_drift(block.header.timestamp_ms, clock_ms)
        return self.validate_block(block)

    def validate_block(self, block: Block) -> ExecutionResult:
        """Check a proposed block against the head and execute it; InvalidBlock if it fails.

        Nothing is written. The result is kept for `append_block`.
        """
        header = block.header
        cached = self._executed.get(block.hash)
        if cached is not None and len(cached[1]) == len(block.transactions) and all(
                admitted.transaction.raw == raw
                for admitted, raw in zip(cached[1], block.transactions, strict=True)):
            return cached[0]  # this header with these transactions was validated (or built) here
        if transactions_root(block.transactions) != header.transactions_root:
            raise InvalidBlock("transactions root does not match the transactions")
        if header.height != self.head.height + 1:
            raise InvalidBlock(f"block height {header.height}, expected {self.head.height + 1}")
        if header.parent_hash != self.head.block_hash:
            raise InvalidBlock(f"block parent 0x{header.parent_hash.hex()[:16]}… is not the "
                               f"head 0x{self.head.block_hash.hex()[:16]}…")
        check_timestamp_order(header.timestamp_ms, self.head.timestamp_ms)
        if len(block.transactions) > MAX_BLOCK_TRANSACTIONS:
            raise InvalidBlock(f"block holds over {MAX_BLOCK_TRANSACTIONS} transactions")
        admitted = self._admit_block_transactions(block)
        result, receipts = self._execute(header.height, header.timestamp_ms, admitted)
        if result.state_root != header.state_root:
            raise InvalidBlock(f"state root 0x{result.state_root.hex()[:16]}… after execution, "
                               f"header says 0x{header.state_root.hex()[:16]}…")
        if merkle_root(receipts) != header.receipts_root:
            raise InvalidBlock("receipts root does not match execution")
        if result.gas_used != header.gas_used:
            raise InvalidBlock(f"gas used {result.gas_used}, header says {header.gas_used}")
        self._remember(block.hash, result, tuple(admitted), receipts)
        return result

    def _admit_block_transactions(self, block: Block) -> list[AdmittedTransaction]:
        try:
            decoded = [self._decoded(raw) for raw in block.transactions]
            admitted = admit_many(self.senders, decoded, self.mapper)
        except YrdError as error:
            raise InvalidBlock(f"block holds an inadmissible transaction: {error}") from error
        expected: dict[Address, int] = {}
        for position, transaction in enumerate(admitted):
            nonce = expected.get(transaction.sender, self.next_nonce(transaction.sender))
            try:
                check_transaction(transaction, self.members, self.contracts,
                                  self.member_contracts)
                check_nonce(transaction, nonce)
            except YrdError as error:
                raise InvalidBlock(f"transaction {position} of the block: {error}") from error
            expected[transaction.sender] = nonce + 1
        member_gas = sum(self._member_gas(transaction) for transaction in admitted)
        if member_gas > MEMBER_BLOCK_GAS_LIMIT:
            raise InvalidBlock(f"the block's transactions to members' contracts declare "
                               f"{member_gas} gas, above the {MEMBER_BLOCK_GAS_LIMIT} a block "
                               "may take")
        return admitted

    def _member_gas(self, admitted: AdmittedTransaction) -> int:
        """The gas a transaction declares if it runs members' code on py-evm, else zero."""
        if self.contracts.name_of(admitted.transaction.to) is not None:
            return 0
        return admitted.transaction.gas

    def _decoded(self, raw: bytes) -> Transaction:
        """A block's transaction: the mempool's decoded copy when it is pending here (decoded
        and recovered once, at admission), else decoded now."""
        pending = self.mempool.by_hash.get(keccak(raw))
        return pending.transaction if pending is not None else self.decode(raw)

    def append_block(self, block: Block) -> CommittedBlock:
        """Validate (or reuse the validation of) a block and commit it atomically."""
        result = self.validate_block(block)
        _, admitted, receipts = self._executed.pop(block.hash)
        events = self._commit(block, result, admitted, receipts)
        return CommittedBlock(block, result.receipts, admitted, events)

    def _commit(self, block: Block, result: ExecutionResult,
                admitted: tuple[AdmittedTransaction, ...],
                receipts: tuple[bytes, ...]) -> tuple[BlockEvent, ...]:
        header = block.header
        hashes = [a.hash for a in admitted] if admitted else [
            r.transaction_hash for r in result.receipts]
        events = decode_block_events(hashes, result.receipts)
        index = index_block(header.height, hashes, result.receipts, self.store.load_index,
                            events, self.records_in_tables)
        head = ChainHead(header.height, block.hash, header.state_root, header.timestamp_ms)
        self.store.save_commit(StoreCommit(
            height=header.height, block_hash=block.hash, block=encode_block(block),
            receipts=encode_receipts_of(receipts), head=encode_head(head),
            state_nodes=result.state_nodes, index=index, rows=result.table_rows,
        ))
        self.head = head
        self._recent[header.height] = (block, tuple(result.receipts))
        self._recent_hashes[header.height] = index[block_transactions_key(header.height)]
        if len(self._recent) > RECENT_BLOCKS_KEPT:
            self._recent.popitem(last=False)
            self._recent_hashes.popitem(last=False)
        for key, value in index.items():
            if key.startswith(MEMBER_PREFIX):
                self.members[key[1:]] = decode_member(value)
        for transaction in admitted:
            self._nonces[transaction.sender] = transaction.nonce + 1
        self.mempool.remove_committed({a.sender: a.nonce + 1 for a in admitted})
        self.mempool.expire_gapped(self.next_nonce, header.timestamp_ms)
        self._executed.clear()
        self._speculation = None
        return events

    # Reads -------------------------------------------------------------------------------

    def block(self, height: int) -> Block:
        """The committed block at a height; NotFound otherwise."""
        recent = self._recent.get(height)
        if recent is not None:
            return recent[0]
        raw = self.store.load_block(height)
        if raw is None:
            raise NotFound(f"no block at height {height}; the head is {self.head.height}",
                           field="height")
        return decode_block(raw)

    def block_by_hash(self, block_hash: bytes) -> Block:
        """A committed block by its hash; NotFound otherwise."""
        height = self.store.load_height(block_hash)
        if height is None:
            raise NotFound(f"no committed block 0x{block_hash.hex()}", field="hash")
        return self.block(height)

    def receipts(self, height: int) -> tuple[Receipt, ...]:
        """The receipts of a committed block (the recent ones as they were committed)."""
        recent = self._recent.get(height)
        if recent is not None:
            return recent[1]
        raw = self.store.load_receipts(height)
        if raw is None:
            raise NotFound(f"no receipts at height {height}", field="height")
        return decode_receipts(raw)

    def transaction_location(self, transaction_hash: bytes) -> tuple[int, int] | None:
        """(height, index) of a committed transaction, or None."""
        raw = self.store.load_index(TRANSACTION_PREFIX + transaction_hash)
        return decode_location(raw) if raw is not None else None

    def receipt(self, transaction_hash: bytes) -> tuple[int, int, Receipt] | None:
        """(height, index, receipt) of a committed transaction, or None."""
        location = self.transaction_location(transaction_hash)
        if location is None:
            return None
        height, index = location
        return height, index, self.receipts(height)[index]

    def record(self, record_id: bytes) -> RecordEntry:
        """A record version from the tables and the index; NotFound otherwise."""
        if not self.records_in_tables:
            raw = self.store.load_index(RECORD_PREFIX + record_id)
            if raw is None:
                raise NotFound(f"no record 0x{record_id.hex()}", field="record_id")
            return decode_record_entry(raw)
        return self._records_from_tables([record_id])[0]

    def _records_from_tables(self, record_ids: list[bytes]) -> list[RecordEntry]:
        """Record versions joined from their rows (read at one state) and the hashes of the
        transactions that wrote them."""
        rows = self.store.load_rows([KEYS.record(record_id) for record_id in record_ids])
        transaction_hash_at = self._transaction_hash_reader()
        entries = []
        for record_id, row in zip(record_ids, rows, strict=True):
            if row is None:
                raise NotFound(f"no record 0x{record_id.hex()}", field="record_id")
            entries.append(record_entry_of_row(record_id, row, transaction_hash_at,
                                               self.publisher_address, self.members.get))
        return entries

    def publisher_address(self, number: int) -> Address:
        """The address of a publisher number (read once from the tables, then kept)."""
        address = self._publishers.get(number)
        if address is None:
            row = self.store.load_row(KEYS.publisher(number))
            address = publishers.address_of_row(row)
            if row is not None:
                self._publishers[number] = address
        return address

    def _transaction_hash_reader(self) -> TransactionHashAt:
        """(height, position) -> transaction hash, each block's list read once per reader: the
        recent blocks' from memory, older ones' from the index (`H`). A block committed before
        a row that names it was committed with it or earlier, so its list is there."""
        lists: dict[int, bytes] = {}

        def at(height: int, position: int) -> bytes:
            hashes = lists.get(height)
            if hashes is None:
                hashes = self._recent_hashes.get(height)
                if hashes is None:
                    hashes = self.store.load_index(block_transactions_key(height)) or b""
                lists[height] = hashes
            return transaction_hash_in(hashes, position)

        return at

    def records_of(self, enterprise: str) -> list[RecordEntry]:
        """Every record version of an enterprise, in publish order."""
        if not self.records_in_tables:
            return [self.record(record_id) for _, record_id in
                    self.store.scan_index(enterprise_key(enterprise), 1 << 20)]
        prefix = enterprise_rows_prefix(enterprise)
        if prefix is None:
            return []
        return self._records_from_tables(
            record_ids_of_chunks(self.store.scan_rows(prefix, 1 << 20)))

    def has_records(self, enterprise: str) -> bool:
        """True when an enterprise has at least one record version."""
        if not self.records_in_tables:
            return bool(self.store.scan_index(enterprise_key(enterprise), 1))
        prefix = enterprise_rows_prefix(enterprise)
        return prefix is not None and bool(self.store.scan_rows(prefix, 1))

    def stored_records(self, limit: int) -> list[RecordEntry]:
        """Up to `limit` record versions, in record id order."""
        if not self.records_in_tables:
            return [decode_record_entry(value)
                    for _, value in self.store.scan_index(RECORD_PREFIX, limit)]
        transaction_hash_at = self._transaction_hash_reader()
        return [record_entry_of_row(key[1:], row, transaction_hash_at, self.publisher_address,
                                    self.members.get)
                for key, row in self.store.scan_rows(RECORDS, limit)]

    def record_versions(self, record_id: bytes) -> list[RecordEntry]:
        """A record's whole version chain, oldest first."""
        entry = self.record(record_id)
        while entry.previous:
            entry = self.record(entry.previous)
        versions = [entry]
        while versions[-1].next:
            versions.append(self.record(versions[-1].next))
        return versions

    def call(self, to: Address, data: bytes, sender: Address = ZERO_ADDRESS,
             timestamp_ms: int | None = None) -> CallResult:
        """A read-only call at the head (eth_call)."""
        environment = self._environment(self.head.height + 1,
                                        self.head.timestamp_ms if timestamp_ms is None
                                        else timestamp_ms)
        return self.executor.call_contract(self.store, self.head.state_root, environment,
                                           sender, to, data)

    def account(self, address: Address) -> AccountView:
        """Nonce, balance and code of an account at the head."""
        return self.executor.read_account(
            self.store, self.head.state_root,
            self._environment(self.head.height, self.head.timestamp_ms), address)

    def gas_estimate_is_exact(self, to: Address) -> bool:
        """True for a system contract under the native engine: a call's gas is exactly the
        transaction's (`chain.engine.gas`). py-evm's gas (refunds, the 63/64 rule) is not."""
        return self.genesis.engine == NATIVE_ENGINE and self.contracts.name_of(to) is not None

    def gas_cap(self, to: Address) -> int:
        """The most gas a transaction to `to` may declare: the members'-contract cap for a
        deployment or a member's contract under the native engine, else the general one."""
        if self.member_contracts is not None and self.contracts.name_of(to) is None:
            return MEMBER_TRANSACTION_GAS_LIMIT
        return MAX_TRANSACTION_GAS

    def evm_root(self, state_root: bytes) -> bytes:
        """The EVM account trie's root within a committed state root (eth_getStorageAt)."""
        if self.genesis.engine == NATIVE_ENGINE:
            return load_commitment(self.store, state_root).evm_root
        return state_root

    def estimate_gas(self, sender: Address, to: Address, data: bytes) -> int:
        """The gas a transaction would use if it were the next one (eth_estimateGas).

        Exact under the native engine (its gas schedule, `chain.engine.gas`). Under py-evm, the
        gas a call at the head consumed, which refunds and the 63/64 rule can make too low.
        """
        result = self.call(to, data, sender)
        return result.gas_used


def replay(ledger: Ledger, blocks: Iterable[Block]) -> None:
    """Append several blocks in order (catch-up, tests)."""
    for block in blocks:
        ledger.append_block(block)
