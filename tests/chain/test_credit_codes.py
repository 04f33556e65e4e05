"""Unified Social Credit Codes (GB 32100-2015) restricted to the chain's eight cities."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chain.cities import City
from chain.enterprise import (
    CREDIT_CODE_ALPHABET,
    EnterpriseId,
    check_character,
    enterprise_from_bytes32,
    make_credit_code,
    parse_credit_code,
)
from chain.errors import InvalidCreditCode

REAL_HANGZHOU_CODE = "91330100799655058B"


def test_real_code_is_accepted_as_hangzhou() -> None:
    enterprise = parse_credit_code(REAL_HANGZHOU_CODE)
    assert enterprise == EnterpriseId(REAL_HANGZHOU_CODE, City.HANGZHOU)
    assert enterprise.region_code == "330100"
    assert EnterpriseId.parse(REAL_HANGZHOU_CODE.lower()).code == REAL_HANGZHOU_CODE


def test_bytes32_round_trip() -> None:
    enterprise = parse_credit_code(REAL_HANGZHOU_CODE)
    raw = enterprise.to_bytes32()
    assert len(raw) == 32 and raw.startswith(REAL_HANGZHOU_CODE.encode())
    assert enterprise_from_bytes32(raw) == enterprise


@pytest.mark.parametrize("wrong", [c for c in "0123456789AB" if c != "B"])
def test_wrong_check_character_is_refused(wrong: str) -> None:
    with pytest.raises(InvalidCreditCode, match="check character should be 'B'") as caught:
        parse_credit_code(REAL_HANGZHOU_CODE[:17] + wrong)
    assert caught.value.field == "credit_code"


@pytest.mark.parametrize("excluded", list("IOSVZ"))
def test_characters_outside_the_standard_set_are_refused(excluded: str) -> None:
    text = REAL_HANGZHOU_CODE[:10] + excluded + REAL_HANGZHOU_CODE[11:]
    with pytest.raises(InvalidCreditCode, match="outside GB 32100-2015's set") as caught:
        parse_credit_code(text)
    assert repr(excluded) in caught.value.message


@pytest.mark.parametrize("text", ["", REAL_HANGZHOU_CODE[:17], REAL_HANGZHOU_CODE + "0",
                                  "9" * 40])
def test_wrong_length_is_refused(text: str) -> None:
    with pytest.raises(InvalidCreditCode, match="18-character"):
        parse_credit_code(text)


def test_non_string_is_refused() -> None:
    with pytest.raises(InvalidCreditCode, match="18-character"):
        parse_credit_code(12345)  # type: ignore[arg-type]


@pytest.mark.parametrize("region", ["110105", "440300", "320200", "330200", "340200"])
def test_region_outside_the_eight_cities_is_refused(region: str) -> None:
    first_seventeen = "91" + region + "799655058"
    valid_elsewhere = first_seventeen + check_character(first_seventeen)
    with pytest.raises(InvalidCreditCode, match=f"division {region} is not in one of"):
        parse_credit_code(valid_elsewhere)


def test_division_digits_must_be_digits() -> None:
    first_seventeen = "9133A100799655058"
    with pytest.raises(InvalidCreditCode, match="six-digit division"):
        parse_credit_code(first_seventeen + check_character(first_seventeen))


def test_non_ascii_text_that_upper_cases_to_a_longer_string_is_refused() -> None:
    # "ﬀ" (U+FB00) upper-cases to "FF": an 18-character text becomes a 19-character code.
    first_seventeen = next(
        candidate for n in range(10_000)
        if check_character(candidate := f"91330100{n:09d}") == "F"
    )
    with pytest.raises(InvalidCreditCode):
        parse_credit_code(first_seventeen + "\ufb00")


@given(city=st.sampled_from(list(City)), serial=st.integers(min_value=0, max_value=10**12))
def test_generated_codes_are_valid_and_belong_to_their_city(city: City, serial: int) -> None:
    enterprise = make_credit_code(city, serial)
    assert len(enterprise.code) == 18
    assert set(enterprise.code) <= set(CREDIT_CODE_ALPHABET)
    assert enterprise.code[17] == check_character(enterprise.code[:17])
    assert enterprise.city is city
    assert parse_credit_code(enterprise.code) == enterprise


@given(serial=st.integers(min_value=0, max_value=99_999_999), position=st.integers(0, 16),
       replacement=st.sampled_from(CREDIT_CODE_ALPHABET))
def test_any_single_substitution_breaks_the_check(serial: int, position: int,
                                                  replacement: str) -> None:
    code = make_credit_code(City.SHANGHAI, serial).code
    if code[position] == replacement:
        return
    altered = code[:position] + replacement + code[position + 1:]
    with pytest.raises(InvalidCreditCode):
        parse_credit_code(altered)


def test_a_valid_code_is_parsed_once_and_an_invalid_one_refused_every_time() -> None:
    from chain.enterprise import _parse_valid_code

    valid = make_credit_code(City.HEFEI, 4242).code
    _parse_valid_code.cache_clear()
    first = parse_credit_code(valid)
    assert parse_credit_code(valid) is first and parse_credit_code(valid.lower()) == first
    assert _parse_valid_code.cache_info().hits == 1
    broken = valid[:17] + ("0" if valid[17] != "0" else "1")
    for _ in range(2):
        with pytest.raises(InvalidCreditCode, match="check character"):
            parse_credit_code(broken)
    with pytest.raises(InvalidCreditCode, match="18-character"):
        parse_credit_code(["not", "a", "code"])  # type: ignore[arg-type]
