"""The query rules as pure functions: signed requests, replay, consent, reports, audit.

The node (`nodes/api/signed.py`) and the simulator call the same functions: `signing` (the
canonical request text and its recovery), `replay` (window and nonces), `consent` (role and
grant), `report` (scope, payload checks, report assembly) and `audit` (entries, batches, proofs).
"""
