"""Money: ISO 4217 currencies and their minor units, amount syntax, formatting."""

from __future__ import annotations

from decimal import Decimal

import pytest

from service.domain.money import (
    MoneyError,
    UnknownCurrency,
    fmt,
    is_currency,
    minor_units,
    money,
    parse_amount,
)
from service.domain.payable import breakdown, reduced

pytestmark = pytest.mark.unit


def test_minor_units_come_from_iso_4217():
    assert [minor_units(c) for c in ("USD", "JPY", "KWD", "EUR", "IQD", "CLP")] == [
        2,
        0,
        3,
        2,
        3,  # ISO 4217 says 3 (CLDR's "digits", babel, say 0)
        0,
    ]
    for code in ("XYZ", "usd", "XAU", "XXX", "CLF", "", "US"):
        assert not is_currency(code)
        with pytest.raises(UnknownCurrency):
            minor_units(code)


@pytest.mark.parametrize(
    ("value", "currency", "expected"),
    [
        ("85.125", "KWD", "85.125"),
        (Decimal("900"), "JPY", "900"),
        ("900.00", "JPY", "900"),
        (349, "USD", "349.00"),
        ("349.5", "USD", "349.50"),
        (Decimal("1E+2"), "USD", "100.00"),
    ],
)
def test_amounts_in_minor_units(value, currency, expected):
    assert fmt(money(value, currency), currency) == expected


@pytest.mark.parametrize(
    ("value", "currency"),
    [("900.75", "JPY"), ("10.001", "USD"), ("85.1255", "KWD"), ("1", "XYZ")],
)
def test_more_decimals_than_the_currency_has_are_refused(value, currency):
    with pytest.raises(MoneyError):
        money(value, currency)


@pytest.mark.parametrize(
    "value",
    [
        "１２３",
        "１２３.５",
        "٣",
        "1e3",
        "1e999999999",
        " 1",
        "1 ",
        "+1",
        "-1",
        "1.2.3",
        ".5",
        "5.",
        "1_000",
        "NaN",
        "Infinity",
        "",
        True,
        None,
        [1],
        {"a": 1},
    ],
)
def test_amount_syntax_is_ascii_digits_and_one_point(value):
    with pytest.raises(MoneyError):
        parse_amount(value)


@pytest.mark.parametrize(
    "value",
    [
        Decimal("1E+999999999"),
        Decimal("-1E+999999999"),
        Decimal("1E-999999999"),
        Decimal("NaN"),
        Decimal("Infinity"),
        10**40,
        Decimal("1000000000000"),
    ],
)
def test_json_numbers_out_of_range_are_refused_without_arithmetic(value):
    with pytest.raises(MoneyError):
        parse_amount(value)


def test_fmt_uses_the_currency_exponent():
    assert fmt(Decimal("300.000"), "USD") == "300.00"
    assert fmt(Decimal("850.000"), "JPY") == "850"
    assert fmt(Decimal("85.125"), "KWD") == "85.125"
    assert fmt(Decimal("85.125")) == "85.125" and fmt(Decimal("300.000")) == "300.00"
    assert fmt(None, "USD") is None


@pytest.mark.parametrize(
    ("amount", "deductible", "limit", "remaining", "payable", "cuts"),
    [
        ("1000", "50", "800", "5000", "800", [("PR", "1", "50"), ("CO", "119", "150")]),
        ("700", "500", "100", "5000", "100", [("PR", "1", "500"), ("CO", "119", "100")]),
        ("350", "50", "800", "100", "100", [("PR", "1", "50"), ("CO", "119", "200")]),
        ("40", "50", "800", "5000", "0", [("PR", "1", "40")]),
        ("500", "0", "800", "0", "0", [("CO", "119", "500")]),
        ("85.125", "0", "800", "5000", "85.125", []),
    ],
)
def test_payable_and_its_lines_balance(amount, deductible, limit, remaining, payable, cuts):
    result = breakdown(Decimal(amount), Decimal(deductible), Decimal(limit), Decimal(remaining))
    assert result.payable == Decimal(payable)
    assert [(a.group, a.carc, a.amount) for a in result.adjustments] == [
        (g, c, Decimal(v)) for g, c, v in cuts
    ]
    assert result.balances


def test_a_supervisors_cut_is_its_own_line():
    result = reduced(
        breakdown(Decimal("1500"), Decimal("50"), Decimal("2000"), Decimal("5000")), Decimal("1200")
    )
    assert [(a.group, a.carc, a.amount) for a in result.adjustments] == [
        ("PR", "1", Decimal("50")),
        ("OA", "150", Decimal("250")),
    ]
    assert result.balances and result.payable == Decimal("1200")
    with pytest.raises(ValueError):
        reduced(result, Decimal("1451"))
