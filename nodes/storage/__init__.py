"""LMDB storage: the block store and the off-chain record store."""
