"""The command line: `yrdchain up | node | keys | demo | compose` and the node process entry."""
