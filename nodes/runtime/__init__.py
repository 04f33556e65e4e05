"""One node's runtime: the driver of the consensus core and the ledger over its ports."""
