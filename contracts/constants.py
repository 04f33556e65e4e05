"""Numbers the contracts define: role bits, status codes, limits.

They mirror the constants in `contracts/src/*.vy`; the tests check them against the contracts.
"""

from __future__ import annotations

from enum import IntEnum

ROLE_PUBLISHER = 1
"""Publishes, corrects and revokes its own credit records; registers enterprise keys."""
ROLE_QUERIER = 2
"""Queries reports with an enterprise's grant; opens disputes for enterprises."""
ROLE_REGULATOR = 4
"""Admits and suspends institutions, manages validators, resolves disputes."""
ROLE_NODE = 8
"""A city node's operator account: anchors the node's audit batches."""
ALL_ROLES = ROLE_PUBLISHER | ROLE_QUERIER | ROLE_REGULATOR | ROLE_NODE
"""Any role at all: what "an active institution" means to the contracts."""
NO_ROLE = 0
"""The contract lets anyone call the function."""

RECORD_KIND_COUNT = 14
"""Record kinds are 0..13; a grant's scope has one bit per kind."""
ALL_KINDS_SCOPE = (1 << RECORD_KIND_COUNT) - 1
"""A grant scope covering every record kind."""
PUBLISH_BATCH_LIMIT = 64
"""Most records one `publish_batch` call carries."""
INSTITUTION_NAME_LIMIT = 64
"""Most characters in an institution's name."""
FIRST_CITY = 1
LAST_CITY = 8
"""Cities are numbered 1..8."""
UPHELD_DISPUTE_REASON = 255
"""The revocation reason recorded when an upheld dispute revokes a record."""


class InstitutionStatus(IntEnum):
    """Membership state of an account in the Consortium."""

    UNKNOWN = 0
    ACTIVE = 1
    SUSPENDED = 2
    REMOVED = 3


class RecordStatus(IntEnum):
    """State of one version of a credit record."""

    UNKNOWN = 0
    ACTIVE = 1
    CORRECTED = 2
    REVOKED = 3


class DisputeStatus(IntEnum):
    """State of a dispute over a credit record."""

    UNKNOWN = 0
    OPEN = 1
    RESPONDED = 2
    UPHELD = 3
    REJECTED = 4
    LAPSED = 5
