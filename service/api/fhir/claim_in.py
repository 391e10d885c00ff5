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

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from fhir.resources.R4B.claim import Claim
from pydantic import ValidationError

from service.domain.model import LANGUAGES

CLAIM_TYPE = "medical_reimbursement"  # every FHIR Claim is a health claim
COVERAGE_PREFIX = "Coverage/"
CONTAINED_PREFIX = "#"
MAX_ISSUES = 50
MAX_NAME = 200  # characters of an unknown element's name quoted back


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
    try:
        return Claim.model_validate(body)
    except ValidationError as exc:
        raise FhirInvalid(
            [
                Issue(fhir_path("Claim", err["loc"]), _library_message(err), _issue_code(err))
                for err in exc.errors()[:MAX_ISSUES]
            ]
        ) from None


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


def claim_body(claim: Claim) -> tuple[dict[str, Any], FieldPaths]:
    """The body of POST /v1/claims for a validated Claim, and where each field came from;
    FhirUnprocessable listing every problem found."""
    issues: list[Issue] = []
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
    loss = _date_of_loss(claim, paths, issues)
    body["date_of_loss"] = loss.isoformat() if loss else None
    reported = _reported_at(claim, paths)
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
            paths.paths["external_ref"] = f"Claim.identifier[{i}].value"
            return str(identifier.value)
    issues.append(
        Issue(
            "Claim.identifier",
            "Give the Claim an identifier with a value: it is the claim's external_ref "
            "(retries with the same identifier are answered with the first response).",
            "required",
        )
    )
    return None


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


def _date_of_loss(claim: Claim, paths: FieldPaths, issues: list[Issue]) -> date | None:
    """billablePeriod.start, else the earliest servicedDate or servicedPeriod.start of the
    items; a date as written (a time's own offset decides its calendar day)."""
    found: list[tuple[Any, str]] = []
    period = claim.billablePeriod
    if period is not None and period.start is not None:
        found.append((period.start, "Claim.billablePeriod.start"))
    else:
        for i, item in enumerate(claim.item or []):
            if item.servicedDate is not None:
                found.append((item.servicedDate, f"Claim.item[{i}].servicedDate"))
            elif item.servicedPeriod is not None and item.servicedPeriod.start is not None:
                found.append((item.servicedPeriod.start, f"Claim.item[{i}].servicedPeriod.start"))
    days: list[tuple[date, str]] = []
    for value, path in found:
        day = _as_date(value)
        if day is None:
            issues.append(Issue(path, "Give a full date (YYYY-MM-DD): it is the date of loss."))
        else:
            days.append((day, path))
    if days and len(days) == len(found):
        earliest, path = min(days)
        paths.paths["date_of_loss"] = path
        return earliest
    if not found:
        issues.append(
            Issue(
                "Claim.billablePeriod",
                "Give billablePeriod.start or a servicedDate on the items: it is the date of loss.",
                "required",
            )
        )
    return None


def _as_date(value: Any) -> date | None:
    """A calendar date, or None for a partial one (2026-06, 2026: kept as text by the
    library)."""
    if isinstance(value, datetime):
        return value.date()
    return value if isinstance(value, date) else None


def _reported_at(claim: Claim, paths: FieldPaths) -> datetime | None:
    """Claim.created when it carries a time with an offset; a bare date: the time received."""
    created = claim.created
    if isinstance(created, datetime) and created.tzinfo is not None:
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
        return str(attachment.url or attachment.title or "") or None
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
        quantity = Decimal(item.quantity.value) if item.quantity and item.quantity.value else 1
        factor = Decimal(item.factor) if item.factor is not None else Decimal(1)
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
