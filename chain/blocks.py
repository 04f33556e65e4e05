"""Blocks: header, body, hashing and their byte encoding.

The block hash is keccak of the RLP-encoded header. The commit certificate that finalised a block
is stored with it but is not part of the hash (it is made after the hash is known).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from chain import rlp_codec
from chain.crypto import keccak
from chain.errors import MalformedInput
from chain.merkle import merkle_root

MAX_BLOCK_TRANSACTIONS = 1_000  # bounded so a block executes within a round's timeout
MAX_BLOCK_BYTES = 16 * 1024 * 1024
GENESIS_PARENT_HASH = b"\0" * 32


@dataclass(frozen=True, slots=True)
class BlockHeader:
    """What a block commits to.

    height: 0 for genesis.
    parent_hash: hash of the block at height - 1.
    timestamp_ms: the proposer's clock, strictly later than the parent's (chain.chain_time).
    proposer: node id of the validator that proposed it.
    transactions_root: Merkle root of the raw transactions.
    state_root: the state after executing the block (py-evm's account trie root).
    receipts_root: Merkle root of the encoded receipts.
    gas_used: total gas of the block.
    """

    height: int
    parent_hash: bytes
    timestamp_ms: int
    proposer: str
    transactions_root: bytes
    state_root: bytes
    receipts_root: bytes
    gas_used: int


@dataclass(frozen=True, slots=True)
class Block:
    """A header, its transactions (raw signed bytes) and, once committed, its certificate."""

    header: BlockHeader
    transactions: tuple[bytes, ...]
    certificate: bytes = b""
    hash: bytes = field(default=b"", compare=False)

    def __post_init__(self) -> None:
        if not self.hash:
            object.__setattr__(self, "hash", hash_header(self.header))

    @property
    def height(self) -> int:
        """The block's height."""
        return self.header.height

    def with_certificate(self, certificate: bytes) -> Block:
        """The same block carrying its commit certificate."""
        return Block(self.header, self.transactions, certificate, self.hash)


def encode_header(header: BlockHeader) -> bytes:
    """RLP of the header fields in declaration order."""
    return rlp_codec.encode([
        rlp_codec.encode_int(header.height),
        header.parent_hash,
        rlp_codec.encode_int(header.timestamp_ms),
        header.proposer.encode("utf-8"),
        header.transactions_root,
        header.state_root,
        header.receipts_root,
        rlp_codec.encode_int(header.gas_used),
    ])


def hash_header(header: BlockHeader) -> bytes:
    """The block hash."""
    return keccak(encode_header(header))


def _header_from_items(items: rlp_codec.RlpItem) -> BlockHeader:
    if not isinstance(items, list) or len(items) != 8 or not all(
        isinstance(item, bytes) for item in items
    ):
        raise MalformedInput("a block header is an RLP list of 8 byte strings", field="header")
    values: list[bytes] = [item for item in items if isinstance(item, bytes)]
    for index in (1, 4, 5, 6):
        if len(values[index]) != 32:
            raise MalformedInput("header hashes and roots are 32 bytes", field="header")
    return BlockHeader(
        height=rlp_codec.decode_int(values[0], "height"),
        parent_hash=values[1],
        timestamp_ms=rlp_codec.decode_int(values[2], "timestamp"),
        proposer=values[3].decode("utf-8", "strict"),
        transactions_root=values[4],
        state_root=values[5],
        receipts_root=values[6],
        gas_used=rlp_codec.decode_int(values[7], "gas_used"),
    )


def encode_block(block: Block) -> bytes:
    """RLP of [header, [transactions], certificate]."""
    header_items = rlp_codec.decode(encode_header(block.header))
    return rlp_codec.encode([header_items, list(block.transactions), block.certificate])


def decode_block(data: bytes) -> Block:
    """Parse a block; MalformedInput if it is not one or exceeds the limits."""
    if len(data) > MAX_BLOCK_BYTES:
        raise MalformedInput(f"block is {len(data)} bytes; limit {MAX_BLOCK_BYTES}", "block")
    try:
        items = rlp_codec.decode(data)
        if not isinstance(items, list) or len(items) != 3:
            raise MalformedInput("a block is an RLP list [header, transactions, certificate]")
        header = _header_from_items(items[0])
        transactions = items[1]
        certificate = items[2]
    except UnicodeDecodeError as error:
        raise MalformedInput("block proposer is not UTF-8", field="block") from error
    if not isinstance(transactions, list) or not all(isinstance(t, bytes) for t in transactions):
        raise MalformedInput("block transactions must be a list of byte strings", "block")
    if len(transactions) > MAX_BLOCK_TRANSACTIONS:
        raise MalformedInput(f"block holds over {MAX_BLOCK_TRANSACTIONS} transactions", "block")
    if not isinstance(certificate, bytes):
        raise MalformedInput("block certificate must be a byte string", field="block")
    return Block(header, tuple(t for t in transactions if isinstance(t, bytes)), certificate)


def transactions_root(raw_transactions: Sequence[bytes]) -> bytes:
    """Merkle root of a block's raw transactions."""
    return merkle_root(raw_transactions)
