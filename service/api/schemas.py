"""marshmallow schemas: what the API accepts (unknown fields refused) and returns."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from service.api.text_fields import FreeText, RequestSchema
from service.domain.model import CLAIM_TYPES, LANGUAGES, OUTCOMES, POLICY_STATUSES
from service.domain.money import MoneyError, fmt, to_money

CURRENCY = validate.Regexp(r"^[A-Z]{3}$", error="Must be a three-letter ISO 4217 code, e.g. USD.")
CODE = validate.Regexp(r"^[a-z][a-z0-9_]{0,63}$", error="Use lower_snake_case, e.g. photos.")
CLOCK_SKEW = timedelta(minutes=5)
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
    latest = (reported or now).date()
    if loss is not None and loss > latest:
        problems.append(
            {"field": "date_of_loss", "message": "Cannot be after the claim was reported."}
        )
    return problems


class Money(fields.Field):
    """A JSON number or string in; a string with two decimals out."""

    def __init__(self, *, minimum: Decimal | None = Decimal("0"), **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.minimum = minimum
        self.metadata.setdefault("example", "350.00")

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Decimal:
        try:
            amount = to_money(value)
        except MoneyError as exc:
            raise ValidationError(f"Not a valid amount: {exc}.") from exc
        if self.minimum is not None and amount < self.minimum:
            raise ValidationError(f"Must be at least {self.minimum}.")
        return amount

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        if value is None:
            return None
        return fmt(to_money(value))


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
        fields.Nested(LineItemSchema), load_default=list, validate=validate.Length(max=200)
    )


class CoverageSchema(StrictSchema):
    claim_type = fields.String(required=True, validate=validate.OneOf(CLAIM_TYPES))
    limit_per_claim = Money(required=True)
    annual_aggregate = Money(required=True)
    deductible = Money(required=True)
    waiting_period_days = fields.Integer(
        load_default=0, validate=validate.Range(min=0, max=3650), strict=True
    )


class PolicySchema(StrictSchema):
    holder = fields.String(required=True, validate=validate.Length(min=1, max=200))
    status = fields.String(required=True, validate=validate.OneOf(POLICY_STATUSES))
    effective_from = fields.Date(required=True, validate=SANE_DATES)
    effective_to = fields.Date(required=True, validate=SANE_DATES)
    currency = fields.String(required=True, validate=CURRENCY)
    coverages = fields.List(
        fields.Nested(CoverageSchema), load_default=list, validate=validate.Length(max=50)
    )

    @validates_schema
    def _consistent(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("effective_from") and data.get("effective_to"):
            if data["effective_to"] < data["effective_from"]:
                raise ValidationError("Must not be before effective_from.", "effective_to")
        types = [c["claim_type"] for c in data.get("coverages", [])]
        if len(types) != len(set(types)):
            raise ValidationError("Each claim type may appear once.", "coverages")


class PolicyOutSchema(Schema):
    number = fields.String()
    holder = fields.String()
    status = fields.String()
    effective_from = fields.String()
    effective_to = fields.String()
    currency = fields.String()
    coverages = fields.List(fields.Dict())


class ReasonOutSchema(Schema):
    code = fields.String()
    carc = fields.String(allow_none=True)
    message = fields.String()
    rule = fields.String()
    action = fields.String()


class DecisionOutSchema(Schema):
    id = fields.Integer()
    outcome = fields.String(metadata={"enum": list(OUTCOMES)})
    payable_amount = fields.String(allow_none=True)
    reasons = fields.List(fields.Nested(ReasonOutSchema))
    missing_documents = fields.List(fields.String())
    ruleset_version = fields.String(allow_none=True)
    trace = fields.List(fields.Dict())
    decided_by = fields.String()
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


class ClaimDetailSchema(ClaimOutSchema):
    decisions = fields.List(fields.Nested(DecisionOutSchema))
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
    status = fields.String(validate=validate.OneOf((*OUTCOMES, "received", "closed")))
    policy_number = fields.String(validate=validate.Length(max=64))
    claim_type = fields.String(validate=validate.OneOf(CLAIM_TYPES))
    since = fields.AwareDateTime(validate=sane_year)
    cursor = fields.String(validate=validate.Length(max=200))
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=1000))
