"""marshmallow schemas: what the API accepts (unknown fields refused) and returns."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from marshmallow import (
    RAISE,
    Schema,
    ValidationError,
    fields,
    post_load,
    validate,
    validates_schema,
)

from service.api.text_fields import FreeText, RequestSchema
from service.domain.calendar import Duration, is_time_zone
from service.domain.lifecycle import ClaimStatus
from service.domain.model import (
    CLAIM_TYPES,
    LANGUAGES,
    OUTCOMES,
    PERIODS,
    POLICY_STATUSES,
    TERMINATED_STATUSES,
)
from service.domain.money import MoneyError, fmt, in_minor_units, is_currency, parse_amount


def _currency(code: Any) -> bool:
    if not is_currency(code):
        raise ValidationError("Must be an ISO 4217 currency code with minor units, e.g. USD.")
    return True


def _time_zone(name: Any) -> bool:
    if not is_time_zone(name):
        raise ValidationError(
            "Must be an IANA time zone name for a place, e.g. America/New_York, or UTC "
            "(not localtime, posixrules, Factory or a path)."
        )
    return True


CURRENCY = _currency
CODE = validate.Regexp(r"^[a-z][a-z0-9_]{0,63}$", error="Use lower_snake_case, e.g. photos.")
CLOCK_SKEW = timedelta(minutes=5)
EARLIEST_ZONE = timedelta(hours=14)
SANE_DATES = validate.Range(
    min=date(1900, 1, 1), max=date(2999, 12, 31), error="Must be between 1900 and 2999."
)


def sane_year(moment: datetime) -> bool:
    if not 1900 <= moment.year <= 2999:
        raise ValidationError("Must be between 1900 and 2999.")
    return True


def date_problems(data: dict[str, Any], now: datetime) -> list[dict[str, str]]:
    """Checks that need the service's clock: nothing reported from the future."""
    problems = []
    reported: datetime | None = data.get("reported_at")
    loss: date | None = data.get("date_of_loss")
    if reported is not None and reported > now + CLOCK_SKEW:
        problems.append({"field": "reported_at", "message": "Cannot be in the future."})
    # The report date is taken in the policy's time zone at intake; here only what no
    # time zone allows is refused (UTC+14 is the earliest calendar on Earth).
    latest = ((reported or now).astimezone(UTC) + EARLIEST_ZONE).date()
    if loss is not None and loss > latest:
        problems.append(
            {"field": "date_of_loss", "message": "Cannot be after the claim was reported."}
        )
    return problems


class Money(fields.Field):
    """A JSON number, or a string of ASCII digits with at most one decimal point, in;
    its decimals are checked against the currency by the schema that names it
    (`in_currency`). Out: a string."""

    def __init__(self, *, minimum: Decimal | None = Decimal("0"), **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.minimum = minimum
        self.metadata.setdefault("example", "350.00")
        self.metadata.setdefault(
            "description", "JSON number or string of digits with at most one decimal point"
        )

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Decimal:
        try:
            amount = parse_amount(value)
        except MoneyError as exc:
            raise ValidationError(f"Not a valid amount: {exc}.") from exc
        if self.minimum is not None and amount < self.minimum:
            raise ValidationError(f"Must be at least {self.minimum}.")
        return amount

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        if value is None:
            return None
        return fmt(parse_amount(value))


def in_currency(amount: Decimal, currency: str, field: str) -> Decimal:
    """`amount` in the currency's minor units, else a ValidationError on `field`
    (JPY 900.75: "JPY has no decimal places")."""
    try:
        return in_minor_units(amount, currency)
    except MoneyError as exc:
        raise ValidationError(f"Not a valid amount in {currency}: {exc}.", field) from exc


class DurationField(fields.Field):
    """A calendar duration: {"months": 1} (one of years, months, days) or ISO "P1M"."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Duration:
        try:
            return Duration.parse(value)
        except ValueError as exc:
            raise ValidationError(str(exc)) from exc

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        return value.as_dict() if isinstance(value, Duration) else value


class StrictSchema(RequestSchema):
    """Request schemas: unknown fields refused, text checked (service/api/text_fields.py)."""

    class Meta:
        unknown = RAISE


class DocumentSchema(StrictSchema):
    type = fields.String(required=True, validate=CODE)
    ref = fields.String(required=True, validate=validate.Length(min=1, max=512))


class ClaimantSchema(StrictSchema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    email = fields.Email(load_default=None, validate=validate.Length(max=254))
    phone = fields.String(
        load_default=None,
        validate=validate.Regexp(r"^\+?[0-9 ()./-]{5,32}$", error="Not a valid phone number."),
    )
    preferred_language = fields.String(load_default="en", validate=validate.OneOf(LANGUAGES))

    @validates_schema
    def _reachable(self, data: dict[str, Any], **kwargs: Any) -> None:
        if not data.get("email") and not data.get("phone"):
            raise ValidationError("Give an email or a phone number.", "email")


class LineItemSchema(StrictSchema):
    code = fields.String(required=True, validate=validate.Length(min=1, max=64))
    description = FreeText(load_default="", validate=validate.Length(max=500))
    amount = Money(required=True)


class ClaimSchema(StrictSchema):
    external_ref = fields.String(required=True, validate=validate.Length(min=1, max=128))
    policy_number = fields.String(required=True, validate=validate.Length(min=1, max=64))
    claim_type = fields.String(required=True, validate=validate.OneOf(CLAIM_TYPES))
    date_of_loss = fields.Date(required=True, validate=SANE_DATES)
    reported_at = fields.AwareDateTime(
        load_default=None,
        validate=sane_year,
        metadata={"description": "ISO 8601 with offset; default now"},
    )
    amount = Money(required=True, minimum=Decimal("0.01"))
    currency = fields.String(required=True, validate=CURRENCY)
    description = FreeText(load_default="", validate=validate.Length(max=5000))
    claimant = fields.Nested(ClaimantSchema, required=True)
    documents = fields.List(
        fields.Nested(DocumentSchema), load_default=list, validate=validate.Length(max=100)
    )
    callback_url = fields.Url(
        load_default=None,
        schemes={"http", "https"},
        require_tld=False,
        validate=validate.Length(max=2048),
    )
    line_items = fields.List(
        fields.Nested(LineItemSchema),
        load_default=list,
        validate=validate.Length(max=200),
        metadata={"description": "when sent, the amounts must add up to the claim amount"},
    )

    @validates_schema
    def _amounts(self, data: dict[str, Any], **kwargs: Any) -> None:
        """Every amount in the claim currency's minor units; line items add up."""
        currency = data.get("currency")
        if currency is None or not is_currency(currency) or "amount" not in data:
            return
        errors: dict[str, list[str]] = {}
        for name, value in [("amount", data["amount"])] + [
            (f"line_items.{i}.amount", item["amount"])
            for i, item in enumerate(data.get("line_items") or [])
        ]:
            try:
                in_currency(value, currency, name)
            except ValidationError as exc:
                errors.update(exc.normalized_messages())  # type: ignore[arg-type]
        if errors:
            raise ValidationError(errors)
        lines = data.get("line_items") or []
        total = sum((item["amount"] for item in lines), Decimal(0))
        if lines and total != data["amount"]:
            raise ValidationError(
                f"The line items add up to {fmt(total, currency)} {currency}, "
                f"not the claim amount {fmt(data['amount'], currency)} {currency}.",
                "line_items",
            )

    @post_load
    def _minor_units(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        currency = data["currency"]
        data["amount"] = in_minor_units(data["amount"], currency)
        for item in data.get("line_items") or []:
            item["amount"] = in_minor_units(item["amount"], currency)
        return data


class CoverageSchema(StrictSchema):
    claim_type = fields.String(required=True, validate=validate.OneOf(CLAIM_TYPES))
    limit_per_claim = Money(required=True)
    annual_aggregate = Money(required=True)
    deductible = Money(required=True)
    deductible_period = fields.String(
        load_default="claim",
        validate=validate.OneOf(PERIODS),
        metadata={"description": "claim (default) or policy_year: met once a policy year"},
    )
    out_of_pocket_maximum = Money(
        load_default=None,
        allow_none=True,
        metadata={"description": "most the insured pays (deductible) per out_of_pocket_period"},
    )
    out_of_pocket_period = fields.String(load_default="claim", validate=validate.OneOf(PERIODS))
    waiting_period = DurationField(
        load_default=None,
        metadata={"description": 'calendar waiting period: {"months": 1}, {"days": 30}, "P1Y"'},
    )
    waiting_period_days = fields.Integer(
        load_default=None,
        validate=validate.Range(min=0, max=3650),
        strict=True,
        metadata={"description": "older form of waiting_period: {days: n}"},
    )

    @post_load
    def _one_waiting_period(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        days = data.pop("waiting_period_days", None)
        if data.get("waiting_period") is None:
            data["waiting_period"] = Duration(days or 0, "days")
        elif days is not None:
            raise ValidationError("Give waiting_period or waiting_period_days, not both.")
        return data


class PolicySchema(StrictSchema):
    holder = fields.String(required=True, validate=validate.Length(min=1, max=200))
    status = fields.String(required=True, validate=validate.OneOf(POLICY_STATUSES))
    effective_from = fields.Date(required=True, validate=SANE_DATES)
    effective_to = fields.Date(required=True, validate=SANE_DATES)
    terminated_on = fields.Date(
        load_default=None,
        allow_none=True,
        validate=SANE_DATES,
        metadata={"description": "lapsed or cancelled: the last day of cover (required)"},
    )
    time_zone = fields.String(
        load_default=None,
        allow_none=True,
        validate=[validate.Length(max=64), _time_zone],
        metadata={"description": "IANA time zone of report dates; default DEFAULT_TIME_ZONE"},
    )
    currency = fields.String(required=True, validate=CURRENCY)
    coverages = fields.List(
        fields.Nested(CoverageSchema), load_default=list, validate=validate.Length(max=50)
    )

    @validates_schema
    def _consistent(self, data: dict[str, Any], **kwargs: Any) -> None:
        start, end = data.get("effective_from"), data.get("effective_to")
        if start and end and end < start:
            raise ValidationError("Must not be before effective_from.", "effective_to")
        terminated = data.get("terminated_on")
        if data.get("status") in TERMINATED_STATUSES and terminated is None:
            raise ValidationError(
                f"Required when the status is {data['status']}: the last day of cover.",
                "terminated_on",
            )
        if data.get("status") == "active" and terminated is not None:
            raise ValidationError("Only a lapsed or cancelled policy has one.", "terminated_on")
        if terminated is not None and start and terminated < start:
            raise ValidationError("Must not be before effective_from.", "terminated_on")
        if terminated is not None and end and terminated > end:
            raise ValidationError("Must not be after effective_to.", "terminated_on")
        types = [c["claim_type"] for c in data.get("coverages", [])]
        if len(types) != len(set(types)):
            raise ValidationError("Each claim type may appear once.", "coverages")
        currency = data.get("currency")
        if currency is None or not is_currency(currency):
            return
        for i, coverage in enumerate(data.get("coverages", [])):
            for name in ("limit_per_claim", "annual_aggregate", "deductible"):
                in_currency(coverage[name], currency, f"coverages.{i}.{name}")
            if coverage.get("out_of_pocket_maximum") is not None:
                name = "out_of_pocket_maximum"
                in_currency(coverage[name], currency, f"coverages.{i}.{name}")

    @post_load
    def _minor_units(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        for coverage in data.get("coverages", []):
            for name in ("limit_per_claim", "annual_aggregate", "deductible"):
                coverage[name] = in_minor_units(coverage[name], data["currency"])
            if coverage.get("out_of_pocket_maximum") is not None:
                oop = coverage["out_of_pocket_maximum"]
                coverage["out_of_pocket_maximum"] = in_minor_units(oop, data["currency"])
        return data


class PolicyOutSchema(Schema):
    number = fields.String()
    holder = fields.String()
    status = fields.String()
    effective_from = fields.String()
    effective_to = fields.String()
    terminated_on = fields.String(allow_none=True)
    time_zone = fields.String(allow_none=True)
    currency = fields.String()
    coverages = fields.List(fields.Dict())


class ReasonOutSchema(Schema):
    code = fields.String()
    carc = fields.String(allow_none=True)
    message = fields.String()
    rule = fields.String()
    action = fields.String()


class AdjustmentOutSchema(Schema):
    group = fields.String(metadata={"enum": ["PR", "CO", "OA"]})
    carc = fields.String()
    amount = fields.String()
    reason = fields.String()


class LineAdjustmentOutSchema(Schema):
    group = fields.String(metadata={"enum": ["PR", "CO", "OA"]})
    carc = fields.String()
    amount = fields.String()


class LineReasonOutSchema(Schema):
    code = fields.String()
    carc = fields.String(allow_none=True)
    message = fields.String()


class LineDecisionOutSchema(Schema):
    sequence = fields.Integer(metadata={"description": "the line item's position, from 1"})
    code = fields.String()
    submitted = fields.String()
    allowed = fields.String(metadata={"description": "after the fee schedule's maximum"})
    deductible = fields.String(metadata={"description": "share of the deductible (PR 1)"})
    paid = fields.String()
    outcome = fields.String(metadata={"enum": ["paid", "partly_paid", "denied"]})
    adjustments = fields.List(
        fields.Nested(LineAdjustmentOutSchema),
        metadata={"description": "submitted - sum(adjustments) = paid"},
    )
    reasons = fields.List(fields.Nested(LineReasonOutSchema))


class DecisionOutSchema(Schema):
    id = fields.Integer()
    outcome = fields.String(metadata={"enum": list(OUTCOMES)})
    payable_amount = fields.String(allow_none=True)
    adjustments = fields.List(
        fields.Nested(AdjustmentOutSchema),
        metadata={"description": "amount - sum(adjustments) = payable_amount (X12 835 CAS)"},
    )
    lines = fields.List(
        fields.Nested(LineDecisionOutSchema),
        metadata={"description": "each line item's decision (empty without line items)"},
    )
    facts = fields.Dict(allow_none=True, metadata={"description": "the facts it was made on"})
    reasons = fields.List(fields.Nested(ReasonOutSchema))
    missing_documents = fields.List(fields.String())
    ruleset_version = fields.String(allow_none=True)
    trace = fields.List(fields.Dict())
    decided_by = fields.String()
    decided_by_kind = fields.String(
        allow_none=True, metadata={"description": "rule | person | system (a timed sweep)"}
    )
    decided_at = fields.String()
    note = fields.String(allow_none=True)


class ClaimOutSchema(Schema):
    id = fields.String()
    external_ref = fields.String()
    status = fields.String()
    policy_number = fields.String()
    claim_type = fields.String()
    date_of_loss = fields.String()
    reported_at = fields.String()
    reported_on = fields.String(metadata={"description": "report date in time_zone"})
    time_zone = fields.String()
    amount = fields.String()
    currency = fields.String()
    description = fields.String()
    claimant = fields.Dict()
    documents = fields.List(fields.Dict())
    line_items = fields.List(fields.Dict())
    callback_url = fields.String(allow_none=True)
    payable_amount = fields.String(allow_none=True)
    assignee = fields.String(allow_none=True)
    sla_due_at = fields.String(allow_none=True)
    decision = fields.Nested(DecisionOutSchema, allow_none=True)
    created_at = fields.String()
    updated_at = fields.String()


class AnswerOutSchema(Schema):
    outcome = fields.String(allow_none=True, metadata={"description": "uphold | overturn"})
    note = fields.String(allow_none=True)
    answered_by = fields.String(allow_none=True)
    answered_at = fields.String()
    decision_id = fields.Integer(allow_none=True)


class AppealDetailSchema(Schema):
    id = fields.Integer()
    reason = fields.String()
    filed_at = fields.String()
    filed_by = fields.String()
    due_at = fields.String()
    status = fields.String(metadata={"description": "open | upheld | overturned"})
    answer = fields.Nested(AnswerOutSchema, allow_none=True)


class ClaimDetailSchema(ClaimOutSchema):
    decisions = fields.List(fields.Nested(DecisionOutSchema))
    appeals = fields.List(fields.Nested(AppealDetailSchema))
    facts = fields.Dict(allow_none=True)
    history = fields.List(fields.Dict())
    version = fields.Integer()


class ClaimSummarySchema(Schema):
    id = fields.String()
    external_ref = fields.String()
    status = fields.String()
    policy_number = fields.String()
    claim_type = fields.String()
    date_of_loss = fields.String()
    amount = fields.String()
    currency = fields.String()
    payable_amount = fields.String(allow_none=True)
    reason_codes = fields.List(fields.String())
    created_at = fields.String()


class ClaimPageSchema(Schema):
    items = fields.List(fields.Nested(ClaimSummarySchema))
    next_cursor = fields.String(allow_none=True)


class ClaimQueryArgs(StrictSchema):
    status = fields.String(validate=validate.OneOf(tuple(ClaimStatus)))
    policy_number = fields.String(validate=validate.Length(max=64))
    claim_type = fields.String(validate=validate.OneOf(CLAIM_TYPES))
    since = fields.AwareDateTime(validate=sane_year)
    cursor = fields.String(validate=validate.Length(max=200))
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=1000))
