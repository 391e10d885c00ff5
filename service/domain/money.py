"""Money is Decimal in the currency's minor units, end to end. Never float arithmetic.

Currencies and their minor units come from ISO 4217 itself (the `iso4217` package
ships the ISO maintenance agency's table): USD 2, JPY 0, KWD 3. CLDR's "digits"
(babel) differ from ISO for a few currencies (IQD: CLDR 0, ISO 3), so they are not
used for amounts. Currencies without minor units (XAU, XXX, ...) and the two units
of account with four (CLF, UYW) are refused: amounts are stored with at most three
decimals (NUMERIC(15, 3)) and compared exactly by the rules engine up to three.

Amount syntax (`parse_amount`): a JSON number, or a string of ASCII digits with at
most one decimal point ("349", "349.5", "349.50"); nothing else (no sign, no
spaces, no exponent, no full-width or other Unicode digits).
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache

from iso4217 import Currency

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
MAX_AMOUNT = Decimal("999999999999.99")
MAX_MINOR_UNITS = 3  # the database keeps three decimals; CLF and UYW (4) are refused
_AMOUNT_TEXT = re.compile(r"[0-9]{1,15}(?:\.[0-9]{1,15})?", re.ASCII)


class MoneyError(ValueError):
    """Raised for a value that is not a usable amount of money."""


class UnknownCurrency(MoneyError):
    """Not an ISO 4217 currency this service can pay in."""


@lru_cache(maxsize=512)
def minor_units(currency: str) -> int:
    """ISO 4217 minor units (decimal places) of `currency`: USD 2, JPY 0, KWD 3.

    Raises UnknownCurrency for a code that is not in ISO 4217 (exact upper case),
    has no minor units (gold, testing codes) or more than three."""
    try:
        exponent = Currency(currency).exponent
    except (ValueError, TypeError):
        raise UnknownCurrency(f"{currency!r} is not an ISO 4217 currency code") from None
    if exponent is None or exponent > MAX_MINOR_UNITS:
        raise UnknownCurrency(f"{currency} has no minor units this service can pay in")
    return int(exponent)


def is_currency(code: object) -> bool:
    """True for an ISO 4217 code this service pays in (see minor_units)."""
    if not isinstance(code, str):
        return False
    try:
        minor_units(code)
    except UnknownCurrency:
        return False
    return True


def quantum(currency: str) -> Decimal:
    """The smallest amount of `currency`: Decimal('0.01') for USD, Decimal('1') for JPY."""
    return Decimal(1).scaleb(-minor_units(currency))


def parse_amount(value: object) -> Decimal:
    """The syntax check: a JSON number (int or Decimal) or a string of ASCII digits with
    at most one decimal point, finite, at most MAX_AMOUNT. Not yet rounded to a
    currency (see in_minor_units). Raises MoneyError with a short reason."""
    if isinstance(value, bool) or value is None:
        raise MoneyError("not a number")
    if isinstance(value, str):
        if not _AMOUNT_TEXT.fullmatch(value):
            raise MoneyError("write digits 0-9 with at most one decimal point, e.g. 349.50")
        number = Decimal(value)
    elif isinstance(value, Decimal):
        number = value
    elif isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, float):
        number = Decimal(repr(value))
    else:
        raise MoneyError("not a number")
    if not number.is_finite():
        raise MoneyError("not a finite number")
    # Compare magnitudes before any arithmetic: 1e999999999 must not reach quantize.
    if number.adjusted() > MAX_AMOUNT.adjusted() or abs(number) > MAX_AMOUNT:
        raise MoneyError("too large")
    exponent = number.as_tuple().exponent
    assert isinstance(exponent, int)
    # |number| <= MAX_AMOUNT here, so quantize stays within Decimal's 28 digits.
    if exponent < -MAX_MINOR_UNITS and number != number.quantize(Decimal("0.001")):
        raise MoneyError(f"more than {MAX_MINOR_UNITS} decimal places")
    return number


def in_minor_units(amount: Decimal, currency: str) -> Decimal:
    """`amount` with exactly the currency's decimals; MoneyError if it has more
    (JPY 900.75), UnknownCurrency for a currency that is not ISO 4217."""
    step = quantum(currency)
    try:
        exact = amount.quantize(step)
    except InvalidOperation:
        raise MoneyError("too large") from None
    if exact != amount:
        places = minor_units(currency)
        raise MoneyError(
            f"{currency} has {places} decimal place{'s' if places != 1 else ''}"
            if places
            else f"{currency} has no decimal places"
        )
    return exact


def money(value: object, currency: str) -> Decimal:
    """parse_amount then in_minor_units: what every amount that names a currency goes through."""
    return in_minor_units(parse_amount(value), currency)


def plain(value: Decimal) -> Decimal:
    """At least two decimals, more only if the value has them (350 -> 350.00,
    85.125 -> 85.125): for figures whose currency is not at hand."""
    if value == value.quantize(CENT):
        return value.quantize(CENT)
    return value.quantize(Decimal("0.001"), rounding=ROUND_HALF_UP)


def fmt(value: Decimal | None, currency: str | None = None) -> str | None:
    """Money as JSON text with the currency's decimals ("300.00" USD, "900" JPY,
    "85.125" KWD); without a currency, see `plain`. None stays None."""
    if value is None:
        return None
    if currency is None or not is_currency(currency):
        return str(plain(value))
    return str(value.quantize(quantum(currency), rounding=ROUND_HALF_UP))
