"""Contracts present at genesis that are not ours: Multicall3 at its canonical address.

Clients (viem's `multicall`, ethers' and web3.py's batching helpers) expect Multicall3 at
`0xcA11bde05977b3631167028862bE2a173976CA11` on every chain. That address is the first
contract of a keyless deployer account, created by one published, pre-signed transaction. We
keep that transaction byte for byte (`multicall3.json`) and run its creation code at genesis
from the same account at nonce 0, so the contract lands at the same address with the same
runtime code as on every other chain. The signature in the transaction lets anyone check the
bytecode is the published one (the test suite recovers the deployer from it).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import rlp

PREDEPLOYED_DIRECTORY = Path(__file__).resolve().parent
CREATION_CODE_FIELD = 5  # legacy transaction fields: nonce, gasPrice, gas, to, value, data, v, r, s


@dataclass(frozen=True, slots=True)
class PredeployedContract:
    """A contract deployed at genesis by a known account at nonce 0."""

    name: str
    address: bytes
    deployer: bytes
    signed_transaction: bytes
    creation_code: bytes


@cache
def multicall3() -> PredeployedContract:
    """Multicall3: its address, deployer, published deployment transaction and creation code."""
    document = json.loads((PREDEPLOYED_DIRECTORY / "multicall3.json").read_text("utf-8"))
    signed = bytes.fromhex(document["transaction"][2:])
    fields = rlp.decode(signed)
    return PredeployedContract(
        name=document["name"],
        address=bytes.fromhex(document["address"][2:]),
        deployer=bytes.fromhex(document["deployer"][2:]),
        signed_transaction=signed,
        creation_code=bytes(fields[CREATION_CODE_FIELD]),
    )
