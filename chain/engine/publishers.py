"""Publisher numbers: a record version's row names its publisher by a small number, not by its
20-byte address (ADR 0024, addendum).

A publisher gets the next number (1, 2, …) the first time one of its record versions is
written, and keeps it: rows `p` + address -> number and `q` + number -> address, and the
setting `publisher_count`. Numbers are never reassigned, so a reader may cache
number -> address for as long as it runs. Number 0 is no publisher (an absent record).
"""

from __future__ import annotations

from chain.crypto import Address
from chain.engine.tables import KEYS, PUBLISHER_COUNT_SETTING, TableOverlay, decode_row

NO_PUBLISHER = 0
ADDRESS_BYTES = 20
ZERO_ADDRESS = bytes(ADDRESS_BYTES)


def number_of(tables: TableOverlay, publisher: Address) -> int:
    """The publisher's number, or `NO_PUBLISHER` before its first record version."""
    (number,) = tables.read(KEYS.publisher_number(publisher), "i")
    return int(number)


def assign_number(tables: TableOverlay, publisher: Address) -> int:
    """The publisher's number, assigned now (the next one) if it has none yet."""
    number = number_of(tables, publisher)
    if number != NO_PUBLISHER:
        return number
    (count,) = tables.read(PUBLISHER_COUNT_SETTING, "i")
    number = int(count) + 1
    tables.write(PUBLISHER_COUNT_SETTING, (number,))
    tables.write(KEYS.publisher_number(publisher), (number,))
    tables.write(KEYS.publisher(number), (publisher,))
    return number


def address_of_row(row: bytes | None) -> Address:
    """The address a `q` row holds; the zero address when there is no row."""
    if row is None:
        return ZERO_ADDRESS
    (address,) = decode_row(row, "b")
    assert isinstance(address, bytes)
    return address.rjust(ADDRESS_BYTES, b"\0")


def address_of(tables: TableOverlay, number: int) -> Address:
    """The address of a publisher number; the zero address for `NO_PUBLISHER`."""
    if number == NO_PUBLISHER:
        return ZERO_ADDRESS
    return address_of_row(tables.load(KEYS.publisher(number)))
