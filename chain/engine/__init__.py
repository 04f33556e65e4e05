"""The storage-state engine: the system contracts as native handlers over typed tables.

Modelled on FISCO BCOS's precompiled contracts over Storage State. `Consortium`,
`CreditRegistry` and `Authorization` run as Python handlers at their genesis addresses with the
ABI, events and revert reasons of the Vyper sources (`contracts/src/*.vy`, the executable
specification); their state is rows in tables (`tables`), committed with the block, and the
state root commits to each block's change set and to the whole table set (`state_hash`).
"""

NATIVE_ENGINE = "native"
"""System contracts as native handlers over table state: the default."""
EVM_ENGINE = "evm"
"""Everything on py-evm with the Vyper bytecode: the reference engine."""
ENGINES = (NATIVE_ENGINE, EVM_ENGINE)
"""The execution engines a network can run; every node of a network runs the same."""
