"""The node's HTTP edge: one wiring point (`app.create_app`), REST, signed reads, JSON-RPC."""
