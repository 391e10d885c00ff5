"""A FHIR R4 `Claim` (JSON) -> the body of `POST /v1/claims`, naming FHIR paths for errors.

Pure: no Flask, no database. The resource is first validated by the R4B models of
`fhir.resources` (wire-compatible with R4 4.0.1 for Claim); what the library refuses is
a `FhirInvalid` (answered 400). What the library accepts but this service cannot take
(another `use`, no policy reference, items that do not add up to the total, ...) is a
`FhirUnprocessable` (answered 422). Paths are FHIRPath expressions with 0-based indices,
e.g. `Claim.item[2].net.value` for the third item. docs/interop.md gives the mapping.

The mapped body then goes through the same schema (`ClaimSchema`) and the same use case
as `POST /v1/claims`; `FieldPaths.path(field)` turns the schema's field names back into
the FHIR paths they came from.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.claim import Claim
from fhir.resources.R4B.resource import Resource
from pydantic import ValidationError

from service.domain.model import LANGUAGES

CLAIM_TYPE = "medical_reimbursement"  # every FHIR Claim is a health claim
COVERAGE_PREFIX = "Coverage/"
CONTAINED_PREFIX = "#"
MAX_NAME = 200  # characters of an unknown element's name quoted back
ABSTRACT_RESOURCES = frozenset({"Resource", "DomainResource"})
EARLIEST_ZONE = timedelta(hours=14)  # UTC+14: the earliest calendar on Earth
CLOCK_SKEW = timedelta(minutes=5)
INLINE_PREFIX = "inline:"
UNSUPPORTED = {
    "modifierExtension": "Modifier extensions change the meaning of the element; this "
    "service knows none, so it cannot adjudicate the Claim as written.",
    "implicitRules": "The resource was written under rules this service does not know.",
}


@dataclass(frozen=True)
class Issue:
    """One OperationOutcome issue: FHIRPath, plain message, FHIR issue-type code."""

    path: str
    message: str
    code: str = "invalid"


class FhirRefused(Exception):
    status = 422

    def __init__(self, issues: list[Issue]) -> None:
        super().__init__("; ".join(f"{i.path}: {i.message}" for i in issues[:3]))
        self.issues = issues


class FhirInvalid(FhirRefused):
    """Not a valid FHIR R4 Claim (400)."""

    status = 400


class FhirUnprocessable(FhirRefused):
    """A valid Claim this service cannot take (422)."""


@dataclass
class FieldPaths:
    """Where each field of the mapped body came from in the Claim."""

    paths: dict[str, str] = field(default_factory=dict)
    service_dates: list[tuple[date, str]] = field(default_factory=list)

    def path(self, name: str) -> str:
        """`line_items.2.amount` -> `Claim.item[2].net.value`; the longest known prefix."""
        parts = name.split(".")
        for end in range(len(parts), 0, -1):
            known = self.paths.get(".".join(parts[:end]))
            if known is not None:
                return known
        return "Claim"


def validate_claim(body: Any) -> Claim:
    """The body as an R4 Claim model, or FhirInvalid naming each path the library refused."""
    if not isinstance(body, dict):
        raise FhirInvalid(
            [Issue("Claim", "The body must be a FHIR Claim resource (a JSON object).")]
        )
    if body.get("resourceType") != "Claim":
        raise FhirInvalid(
            [Issue("Claim.resourceType", 'Must be "Claim" on this endpoint.', "structure")]
        )
    contained = _contained_issues(body.get("contained"))
    if contained:
        raise FhirInvalid(contained)
    try:
        return Claim.model_validate(body)
    except ValidationError as exc:
        raise FhirInvalid(
            [
                Issue(fhir_path("Claim", err["loc"]), _library_message(err), _issue_code(err))
                for err in exc.errors()
            ]
        ) from None
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        # what the library trips over rather than reports: a refusal, never a 500
        raise FhirInvalid(
            [Issue("Claim", f"Not a valid FHIR R4 Claim ({type(exc).__name__}).", "structure")]
        ) from None


def _contained_issues(contained: Any, base: str = "Claim") -> list[Issue]:
    """Each contained resource (and one contained in it) must name a FHIR R4 resource
    type: the library looks the name up and fails (KeyError, TypeError) on one it does
    not know, so it is checked here first, one issue per bad entry."""
    if contained is None or not isinstance(contained, list):
        return []  # the library names a non-list itself
    issues = []
    for i, resource in enumerate(contained):
        path = f"{base}.contained[{i}]"
        if not isinstance(resource, dict):
            issues.append(Issue(path, "A contained resource is a JSON object.", "structure"))
            continue
        if "resourceType" not in resource:
            issues.append(
                Issue(f"{path}.resourceType", "Name the contained resource's type.", "required")
            )
            continue
        kind = resource["resourceType"]
        if not isinstance(kind, str) or not _is_resource_type(kind):
            issues.append(
                Issue(
                    f"{path}.resourceType",
                    'Not a FHIR R4 resource type (e.g. "Patient").',
                    "structure",
                )
            )
        issues += _contained_issues(resource.get("contained"), path)
    return issues


def _is_resource_type(name: str) -> bool:
    if not name.isascii() or not name.isalpha() or name in ABSTRACT_RESOURCES:
        return False
    try:
        model = get_fhir_model_class(name)
    except (KeyError, TypeError, ValueError, AttributeError):
        return False
    return isinstance(model, type) and issubclass(model, Resource)


def fhir_path(root: str, loc: tuple[Any, ...]) -> str:
    """("item", 2, "net", "value") -> "Claim.item[2].net.value"."""
    out = root
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif str(part) not in ("__root__", "resourceType") or out == root:
            out += f".{_printable(str(part))}"
    return out


def _printable(name: str) -> str:
    """A client's own key quoted back: escapes for what is not printable, at most
    MAX_NAME characters."""
    if not name.isprintable():
        name = ascii(name)[1:-1]
    return name if len(name) <= MAX_NAME else name[:MAX_NAME] + "..."


def _issue_code(err: Any) -> str:
    kind = str(err.get("type", ""))
    if "missing" in kind:
        return "required"
    if kind == "extra_forbidden":
        return "structure"
    return "value"


def _library_message(err: Any) -> str:
    message = str(err.get("msg", "invalid"))
    return message[:300]


def claim_body(claim: Claim, now: datetime) -> tuple[dict[str, Any], FieldPaths]:
    """The body of POST /v1/claims for a validated Claim (`now`: the service's clock, for
    the dates), and where each field came from; FhirUnprocessable listing every problem
    found."""
    issues: list[Issue] = _unsupported(claim)
    paths = FieldPaths()
    body: dict[str, Any] = {"claim_type": CLAIM_TYPE}
    if claim.use != "claim":
        issues.append(Issue("Claim.use", 'Only use "claim" is adjudicated here.', "not-supported"))
    if claim.status != "active":
        issues.append(
            Issue("Claim.status", "Only an active Claim is adjudicated.", "business-rule")
        )
    body["external_ref"] = _external_ref(claim, paths, issues)
    body["policy_number"] = _policy_number(claim, paths, issues)
    loss = _date_of_loss(claim, paths, issues, now)
    body["date_of_loss"] = loss.isoformat() if loss else None
    reported = _reported_at(claim, paths, loss, now, issues)
    if reported is not None:
        body["reported_at"] = reported.isoformat()
    body["claimant"] = _claimant(claim, paths, issues)
    body["documents"] = _documents(claim, paths, issues)
    amount, currency, lines = _items(claim, paths, issues)
    body["amount"], body["currency"], body["line_items"] = amount, currency, lines
    paths.paths.setdefault("description", "Claim")
    if issues:
        raise FhirUnprocessable(issues)
    return body, paths


def _external_ref(claim: Claim, paths: FieldPaths, issues: list[Issue]) -> str | None:
    for i, identifier in enumerate(claim.identifier or []):
        if identifier.value:
            paths.paths["external_ref"] = f"Claim.identifier[{i}]"
            return external_ref(identifier.system, identifier.value)
    issues.append(
        Issue(
            "Claim.identifier",
            "Give the Claim an identifier with a value: it is the claim's external_ref "
            "(retries with the same identifier are answered with the first response).",
            "required",
        )
    )
    return None


def claim_codings(body: dict[str, Any]) -> dict[str, Any]:
    """The Claim's own `type` and `subType` as sent (validated), kept with the claim so
    its ClaimResponse answers the same ones."""
    return {k: body[k] for k in ("type", "subType") if isinstance(body.get(k), dict)}


def external_ref(system: Any, value: Any) -> str:
    """The claim's external_ref for a Claim identifier: `<system>|<value>` (FHIR's own
    token notation), or the value alone when the identifier has no system; the same
    value from two systems is two claims."""
    return f"{system}|{value}" if system else str(value)


def identifier_of(ref: str) -> dict[str, str]:
    """An external_ref back as a FHIR Identifier (system and value)."""
    system, bar, value = ref.rpartition("|")
    return {"system": system, "value": value} if bar and system else {"value": ref}


def _unsupported(claim: Claim) -> list[Issue]:
    """`implicitRules` and every `modifierExtension` (on the Claim, an item, a detail,
    a contained resource ...) change what the resource means in ways this service does
    not know: refused (not-supported), naming each path."""
    issues: list[Issue] = []
    stack: list[tuple[Any, str]] = [(claim.model_dump(exclude_none=True), "Claim")]
    while stack:
        node, path = stack.pop()
        if isinstance(node, list):
            stack.extend((value, f"{path}[{i}]") for i, value in enumerate(node))
            continue
        if not isinstance(node, dict):
            continue
        for name, value in node.items():
            if name in UNSUPPORTED and value not in (None, [], ""):
                issues.append(Issue(f"{path}.{name}", UNSUPPORTED[name], "not-supported"))
            elif isinstance(value, (dict, list)):
                stack.append((value, f"{path}.{name}"))
    return sorted(issues, key=lambda i: i.path)


def _policy_number(claim: Claim, paths: FieldPaths, issues: list[Issue]) -> str | None:
    insurances = list(claim.insurance or [])
    chosen = next((i for i, ins in enumerate(insurances) if ins.focal), 0)
    if not insurances:
        issues.append(Issue("Claim.insurance", "Required.", "required"))
        return None
    base = f"Claim.insurance[{chosen}].coverage"
    coverage = insurances[chosen].coverage
    if coverage.identifier is not None and coverage.identifier.value:
        paths.paths["policy_number"] = f"{base}.identifier.value"
        return str(coverage.identifier.value)
    reference = coverage.reference or ""
    if reference.startswith(COVERAGE_PREFIX) and len(reference) > len(COVERAGE_PREFIX):
        paths.paths["policy_number"] = f"{base}.reference"
        return reference[len(COVERAGE_PREFIX) :]
    issues.append(
        Issue(
            base,
            'Reference the policy as {"identifier": {"value": "<policy number>"}} '
            'or {"reference": "Coverage/<policy number>"}.',
            "required",
        )
    )
    return None


def _date_of_loss(
    claim: Claim, paths: FieldPaths, issues: list[Issue], now: datetime
) -> date | None:
    """The earliest day of service: billablePeriod.start and every item's servicedDate
    or servicedPeriod.start. Dates only (YYYY-MM-DD): a time with an offset would put the
    day in the sender's zone, not the policy's, so it is refused. Every date of the
    Claim is checked: none in the future, no period ending before it starts, every item
    inside the billable period."""
    found: list[tuple[date, str]] = []
    latest = (now.astimezone(UTC) + EARLIEST_ZONE).date()

    def day_of(value: Any, path: str) -> date | None:
        day = _as_date(value, path, issues)
        if day is not None and day > latest:
            issues.append(Issue(path, "Cannot be in the future.", "business-rule"))
            return None
        return day

    def period(value: Any, base: str) -> tuple[date | None, date | None]:
        if value is None:
            return None, None
        start = day_of(value.start, f"{base}.start") if value.start is not None else None
        end = day_of(value.end, f"{base}.end") if value.end is not None else None
        if start is not None and end is not None and end < start:
            issues.append(Issue(f"{base}.end", "The period ends before it starts.", "value"))
        return start, end

    billed_from, billed_to = period(claim.billablePeriod, "Claim.billablePeriod")
    if billed_from is not None:
        found.append((billed_from, "Claim.billablePeriod.start"))
    for i, item in enumerate(claim.item or []):
        base = f"Claim.item[{i}]"
        days: list[tuple[date, str]] = []
        if item.servicedDate is not None:
            day = day_of(item.servicedDate, f"{base}.servicedDate")
            if day is not None:
                days.append((day, f"{base}.servicedDate"))
        start, end = period(item.servicedPeriod, f"{base}.servicedPeriod")
        if start is not None:
            days.append((start, f"{base}.servicedPeriod.start"))
        if end is not None:
            days.append((end, f"{base}.servicedPeriod.end"))
        for day, path in days:
            if (billed_from is not None and day < billed_from) or (
                billed_to is not None and day > billed_to
            ):
                issues.append(Issue(path, "Outside the Claim's billablePeriod.", "business-rule"))
        found += days
        paths.service_dates += days
    given = (claim.billablePeriod is not None and claim.billablePeriod.start is not None) or any(
        item.servicedDate is not None
        or (item.servicedPeriod is not None and item.servicedPeriod.start is not None)
        for item in claim.item or []
    )
    if not given:
        issues.append(
            Issue(
                "Claim.billablePeriod",
                "Give billablePeriod.start or a servicedDate on the items: it is the date of loss.",
                "required",
            )
        )
    if not found:
        return None
    earliest, path = min(found)
    paths.paths["date_of_loss"] = path
    return earliest


def _as_date(value: Any, path: str, issues: list[Issue]) -> date | None:
    """A calendar date; an issue for a time (datetime) or a partial date (2026-06, 2026:
    kept as text by the library)."""
    if isinstance(value, datetime):
        issues.append(
            Issue(
                path,
                "Give a date (YYYY-MM-DD), not a time: the day of service counts in the "
                "policy's time zone, which an offset cannot say.",
                "value",
            )
        )
        return None
    if isinstance(value, date):
        return value
    issues.append(Issue(path, "Give a full date (YYYY-MM-DD): it is the date of loss.", "value"))
    return None


def _reported_at(
    claim: Claim, paths: FieldPaths, loss: date | None, now: datetime, issues: list[Issue]
) -> datetime | None:
    """Claim.created when it carries a time with an offset; a bare date: the time
    received. Either way never in the future and never before the date of loss
    (422 Claim.created)."""
    created = claim.created
    if isinstance(created, datetime) and created.tzinfo is not None:
        day = created.date()
        future = created > now + CLOCK_SKEW
    elif isinstance(created, date) and not isinstance(created, datetime):
        day = created
        future = created > (now.astimezone(UTC) + EARLIEST_ZONE).date()
    else:
        return None
    if future:
        issues.append(Issue("Claim.created", "Cannot be in the future.", "business-rule"))
    elif loss is not None and day < loss:
        issues.append(
            Issue("Claim.created", "Cannot be before the date of service.", "business-rule")
        )
    if isinstance(created, datetime):
        paths.paths["reported_at"] = "Claim.created"
        return created
    return None


def _claimant(claim: Claim, paths: FieldPaths, issues: list[Issue]) -> dict[str, Any] | None:
    reference = claim.patient.reference or ""
    contained = list(claim.contained or [])
    index = next(
        (
            i
            for i, resource in enumerate(contained)
            if reference.startswith(CONTAINED_PREFIX)
            and resource.get_resource_type() == "Patient"
            and resource.id == reference[1:]
        ),
        None,
    )
    if index is None:
        issues.append(
            Issue(
                "Claim.patient",
                'Reference a contained Patient ("#<id>") with a name and an email or phone '
                "in telecom: the service writes to the claimant.",
                "required",
            )
        )
        return None
    patient: Any = contained[index]
    base = f"Claim.contained[{index}]"
    paths.paths["claimant"] = base
    paths.paths["claimant.name"] = f"{base}.name"
    paths.paths["claimant.email"] = f"{base}.telecom"
    paths.paths["claimant.phone"] = f"{base}.telecom"
    paths.paths["claimant.preferred_language"] = f"{base}.communication"
    claimant: dict[str, Any] = {"name": _name(patient)}
    for point in patient.telecom or []:
        if point.system == "email" and point.value and "email" not in claimant:
            claimant["email"] = point.value
        elif point.system in ("phone", "sms") and point.value and "phone" not in claimant:
            claimant["phone"] = point.value
    language = _language(patient)
    if language:
        claimant["preferred_language"] = language
    return claimant


def _name(patient: Any) -> str:
    for name in patient.name or []:
        if name.text:
            return str(name.text)
        words = [*(name.given or []), name.family or ""]
        text = " ".join(w for w in words if w)
        if text:
            return text
    return ""


def _language(patient: Any) -> str | None:
    """The preferred communication language (BCP 47, e.g. es-MX -> es) if the service
    writes in it; else the first one it writes in; else English (the schema's default)."""
    choices: list[tuple[bool, str]] = []
    for communication in patient.communication or []:
        for coding in communication.language.coding or []:
            code = str(coding.code or "").split("-")[0].lower()
            if code in LANGUAGES:
                choices.append((not communication.preferred, code))
    return min(choices)[1] if choices else None


def _documents(claim: Claim, paths: FieldPaths, issues: list[Issue]) -> list[dict[str, str]]:
    documents: list[dict[str, str]] = []
    for i, info in enumerate(claim.supportingInfo or []):
        base = f"Claim.supportingInfo[{i}]"
        kind = _first_code(info.code) or _first_code(info.category)
        if info.valueAttachment is not None and not (
            info.valueAttachment.url or info.valueAttachment.data
        ):
            issues.append(
                Issue(
                    f"{base}.valueAttachment",
                    "Give the document: its url, or its content in data.",
                    "required",
                )
            )
            continue
        ref = _document_ref(info)
        if ref is None:
            continue  # information that is not a document (a value, a flag)
        n = len(documents)
        paths.paths[f"documents.{n}"] = base
        paths.paths[f"documents.{n}.type"] = (
            f"{base}.code" if _first_code(info.code) else (f"{base}.category")
        )
        paths.paths[f"documents.{n}.ref"] = f"{base}.value"
        if not kind:
            issues.append(Issue(f"{base}.code", "Name the document type in code.", "required"))
            continue
        documents.append({"type": kind, "ref": ref})
    paths.paths.setdefault("documents", "Claim.supportingInfo")
    return documents


def _first_code(concept: Any) -> str | None:
    if concept is None:
        return None
    for coding in concept.coding or []:
        if coding.code:
            return str(coding.code)
    return None


def _document_ref(info: Any) -> str | None:
    attachment = info.valueAttachment
    if attachment is not None:
        if attachment.url:
            return str(attachment.url)
        # sent inline: the service keeps its fingerprint, not the bytes
        data = attachment.data if isinstance(attachment.data, bytes) else str(attachment.data)
        raw = data if isinstance(data, bytes) else data.encode()
        return INLINE_PREFIX + hashlib.sha256(raw).hexdigest()
    if info.valueReference is not None and info.valueReference.reference:
        return str(info.valueReference.reference)
    return None


def _items(
    claim: Claim, paths: FieldPaths, issues: list[Issue]
) -> tuple[Decimal | None, str | None, list[dict[str, Any]]]:
    """The line items, the claim amount (Claim.total, or the items' sum) and currency."""
    total = claim.total
    currency = str(total.currency) if total is not None and total.currency else None
    paths.paths["currency"] = "Claim.total.currency" if currency else "Claim.item"
    lines: list[dict[str, Any]] = []
    items = list(claim.item or [])
    for i, item in enumerate(items):
        base = f"Claim.item[{i}]"
        if item.sequence != i + 1:
            issues.append(
                Issue(
                    f"{base}.sequence", f"Items are numbered 1, 2, 3... in order: expected {i + 1}."
                )
            )
        code = _first_code(item.productOrService) or item.productOrService.text
        paths.paths[f"line_items.{i}"] = base
        paths.paths[f"line_items.{i}.code"] = f"{base}.productOrService"
        paths.paths[f"line_items.{i}.description"] = f"{base}.productOrService.text"
        paths.paths[f"line_items.{i}.amount"] = f"{base}.net.value"
        net = _net(item, base, issues)
        if net is None:
            continue
        if item.net is not None and item.net.currency:
            if currency is None:
                currency = str(item.net.currency)
            elif item.net.currency != currency:
                issues.append(Issue(f"{base}.net.currency", f"Every amount must be in {currency}."))
        lines.append(
            {
                "code": code or "",
                "description": item.productOrService.text
                or _first_display(item.productOrService)
                or "",
                "amount": net,
            }
        )
    paths.paths["line_items"] = "Claim.item"
    if not items:
        issues.append(Issue("Claim.item", "List at least one item with a net amount.", "required"))
    if currency is None:
        issues.append(
            Issue("Claim.total.currency", "Give the currency of the amounts.", "required")
        )
    sum_of_nets = sum((line["amount"] for line in lines), Decimal(0))
    if total is not None and total.value is not None:
        paths.paths["amount"] = "Claim.total.value"
        if len(lines) == len(items) and Decimal(total.value) != sum_of_nets:
            issues.append(
                Issue(
                    "Claim.total.value",
                    f"The items' net values add up to {sum_of_nets}, not the total {total.value}.",
                    "business-rule",
                )
            )
        return Decimal(total.value), currency, lines
    paths.paths["amount"] = "Claim.item"
    return sum_of_nets, currency, lines


def _net(item: Any, base: str, issues: list[Issue]) -> Decimal | None:
    """item.net.value; when quantity and unitPrice are given too, net must equal
    quantity x unitPrice x factor (FHIR's own definition of net)."""
    if item.net is None or item.net.value is None:
        issues.append(Issue(f"{base}.net.value", "Every item needs a net amount.", "required"))
        return None
    net = Decimal(item.net.value)
    if item.unitPrice is not None and item.unitPrice.value is not None:
        quantity = (
            Decimal(item.quantity.value)
            if item.quantity is not None and item.quantity.value is not None
            else Decimal(1)
        )
        factor = Decimal(item.factor) if item.factor is not None else Decimal(1)
        if item.unitPrice.currency and item.unitPrice.currency != item.net.currency:
            issues.append(
                Issue(
                    f"{base}.unitPrice.currency",
                    f"unitPrice must be in the net's currency ({item.net.currency}).",
                    "business-rule",
                )
            )
        expected = quantity * Decimal(item.unitPrice.value) * factor
        if expected != net:
            issues.append(
                Issue(
                    f"{base}.net.value",
                    f"net must be quantity x unitPrice x factor = {expected}, not {net}.",
                    "business-rule",
                )
            )
    return net


def _first_display(concept: Any) -> str | None:
    for coding in concept.coding or []:
        if coding.display:
            return str(coding.display)
    return None
