"""Money is Decimal, end to end. Never float arithmetic."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
MAX_AMOUNT = Decimal("999999999999.99")


class MoneyError(ValueError):
    """Raised for a value that is not a usable amount of money."""


def to_money(value: object) -> Decimal:
    """Parse a JSON number or string into a Decimal with two places.

    Floats are converted through their shortest repr, so 10.1 becomes 10.10,
    not 10.0999999... Booleans, NaN, infinities and more than two decimal
    places are refused rather than silently rounded.
    """
    if isinstance(value, bool) or value is None:
        raise MoneyError("not a number")
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, float):
        number = Decimal(repr(value))
    elif isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except InvalidOperation as exc:
            raise MoneyError("not a number") from exc
    else:
        raise MoneyError("not a number")
    if not number.is_finite():
        raise MoneyError("not a finite number")
    exponent = number.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -2 and number != number.quantize(CENT):
        raise MoneyError("more than two decimal places")
    if abs(number) > MAX_AMOUNT:
        raise MoneyError("too large")
    return number.quantize(CENT, rounding=ROUND_HALF_UP)


def fmt(value: Decimal | None) -> str | None:
    """Format money for JSON: a string with exactly two decimals."""
    if value is None:
        return None
    return str(value.quantize(CENT, rounding=ROUND_HALF_UP))
