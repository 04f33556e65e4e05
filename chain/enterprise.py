"""Enterprise identity: the 18-character Unified Social Credit Code (GB 32100-2015).

Layout: 1 registration-authority character, 1 institution-type character, 6 digits of the
administrative division (GB/T 2260), 9 characters of the organisation code (GB 11714), and one
check character computed over the first 17 with weights 3^i mod 31. The character set is the
digits and the capital letters without I, O, S, V and Z.

Only enterprises registered in one of the chain's eight cities are valid here: the division
digits must match a city (Shanghai 31xxxx, Nanjing 3201xx, ...).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from chain.cities import City, city_of_region_code
from chain.errors import InvalidCreditCode

CREDIT_CODE_LENGTH = 18
CREDIT_CODE_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
CHECK_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
ORGANISATION_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
_VALUE_OF = {character: index for index, character in enumerate(CREDIT_CODE_ALPHABET)}
CREDIT_CODE_CACHE_SIZE = 65_536  # enterprises whose bytes32 form was checked lately (publishes)


@dataclass(frozen=True, slots=True)
class EnterpriseId:
    """A validated Unified Social Credit Code and the chain city it belongs to."""

    code: str
    city: City

    @classmethod
    def parse(cls, text: str) -> EnterpriseId:
        """Validate `text` and return the enterprise id; raise InvalidCreditCode otherwise."""
        return parse_credit_code(text)

    def to_bytes32(self) -> bytes:
        """The contracts' form: the ASCII code left-aligned in 32 bytes."""
        return self.code.encode("ascii").ljust(32, b"\0")

    @property
    def region_code(self) -> str:
        """The six digits of the administrative division."""
        return self.code[2:8]

    def __str__(self) -> str:
        return self.code


def check_character(first_seventeen: str) -> str:
    """The GB 32100-2015 check character for the first 17 characters."""
    total = sum(_VALUE_OF[c] * w for c, w in zip(first_seventeen, CHECK_WEIGHTS, strict=True))
    return CREDIT_CODE_ALPHABET[(31 - total % 31) % 31]


def parse_credit_code(text: str) -> EnterpriseId:
    """Validate a credit code: length, character set, check character and chain region.

    Valid codes are remembered (a bounded cache: reports and consent checks parse the same
    codes over and over); an invalid one is checked, and refused, every time."""
    if isinstance(text, str) and len(text) == CREDIT_CODE_LENGTH:
        return _parse_valid_code(text)
    return _parse_credit_code(text)


@functools.lru_cache(maxsize=CREDIT_CODE_CACHE_SIZE)
def _parse_valid_code(text: str) -> EnterpriseId:
    return _parse_credit_code(text)


def _parse_credit_code(text: str) -> EnterpriseId:
    if not isinstance(text, str) or len(text) != CREDIT_CODE_LENGTH:
        got = len(text) if isinstance(text, str) else type(text).__name__
        raise InvalidCreditCode(
            f"expected an 18-character Unified Social Credit Code, got {got!r} characters",
            field="credit_code",
        )
    code = text.upper() if text.isascii() else text
    bad = [c for c in code if c not in _VALUE_OF]
    if bad:
        raise InvalidCreditCode(
            f"credit code {text!r} has characters outside GB 32100-2015's set "
            f"(digits and capitals without I, O, S, V, Z): {''.join(bad)!r}",
            field="credit_code",
        )
    if not code[2:8].isdigit():
        raise InvalidCreditCode(
            f"credit code {text!r}: characters 3-8 must be the six-digit division code",
            field="credit_code",
        )
    expected = check_character(code[:17])
    if code[17] != expected:
        raise InvalidCreditCode(
            f"credit code {text!r}: check character should be {expected!r}, got {code[17]!r}",
            field="credit_code",
        )
    city = city_of_region_code(code[2:8])
    if city is None:
        raise InvalidCreditCode(
            f"credit code {text!r}: division {code[2:8]} is not in one of the chain's eight "
            "cities (Shanghai 31, Nanjing 3201, Suzhou 3205, Changzhou 3204, Suqian 3213, "
            "Hangzhou 3301, Taizhou 3310, Hefei 3401)",
            field="credit_code",
        )
    return EnterpriseId(code=code, city=city)


@functools.lru_cache(maxsize=CREDIT_CODE_CACHE_SIZE)
def enterprise_from_bytes32(raw: bytes) -> EnterpriseId:
    """Decode the contracts' bytes32 form back into a validated id (remembered: every node
    checks each publish's enterprise, and enterprises recur)."""
    try:
        text = raw.rstrip(b"\0").decode("ascii")
    except UnicodeDecodeError as error:
        raise InvalidCreditCode("enterprise bytes are not ASCII", field="enterprise") from error
    return parse_credit_code(text)


def organisation_check(body: str) -> str:
    """The GB 11714 check character of an 8-character organisation-code body."""
    total = sum(_VALUE_OF[c] * w for c, w in zip(body, ORGANISATION_WEIGHTS, strict=True))
    value = 11 - total % 11
    return "X" if value == 10 else "0" if value == 11 else str(value)


def make_credit_code(city: City, serial: int, region_code: str | None = None) -> EnterpriseId:
    """A valid credit code for an enterprise of `city` (for presets, workloads and tests).

    Registration authority 9 (market regulation), type 1 (enterprise), the city's sample
    district, an organisation code from `serial`, and the check character.
    """
    region = region_code or city.facts.sample_region_code
    body = f"{serial % 100_000_000:08d}"
    first_seventeen = "91" + region + body + organisation_check(body)
    return parse_credit_code(first_seventeen + check_character(first_seventeen))


@functools.lru_cache(maxsize=CREDIT_CODE_CACHE_SIZE)
def is_credit_code_bytes32(raw: bytes) -> bool:
    """Whether `raw` is exactly the contracts' form of a valid credit code of the chain.

    The rule the contracts apply to a published record's enterprise (`CreditRegistry._publish`):
    18 ASCII characters of the alphabet in upper case, a valid check character and a division
    of one of the eight cities, then 14 zero bytes. Stricter than `enterprise_from_bytes32`,
    which accepts lower case.
    """
    if len(raw) != 32 or any(raw[CREDIT_CODE_LENGTH:]):
        return False
    text = raw[:CREDIT_CODE_LENGTH].decode("latin-1")
    if any(character not in _VALUE_OF for character in text):
        return False
    try:
        parse_credit_code(text)
    except InvalidCreditCode:
        return False
    return True
