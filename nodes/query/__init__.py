"""Signed queries: request signatures, consent, report assembly, payload fetches, audit trail."""
