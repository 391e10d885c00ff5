"""The one place request text is checked: every request schema derives from RequestSchema.

Before any field is read, every string in the input (values and keys, however deep)
passes `service.domain.text.text_problem`: NUL, lone surrogates and control characters
are refused with a 422 that names the field. Fields declared `FreeText` (descriptions,
notes, rule text) may hold tab and line breaks; every other string is one line.
Path parameters get the same check from `TextConverter` (service/api/parsing.py).
Numbers and dates sent as text must be ASCII: Python reads any Unicode digit ("٣٠" is
30 for int(), "٢٠٢٦-01-01" a date for marshmallow), so `digit_errors` refuses them (422).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from marshmallow import Schema, ValidationError, fields, pre_load

from service.domain.text import text_problem


class FreeText(fields.String):
    """A string that may span lines (tab, LF, CR allowed); other controls are refused."""


def _field_map(schema: Schema) -> dict[str, fields.Field]:
    """Fields by the name they have in the input (kept on the schema: built once)."""
    known: dict[str, fields.Field] | None = schema.__dict__.get("_fields_by_input_name")
    if known is None:
        known = {f.data_key or name: f for name, f in schema.load_fields.items()}
        schema.__dict__["_fields_by_input_name"] = known
    return known


def _children(value: Any, field: fields.Field | None) -> list[tuple[str, Any, Any]]:
    """(key, child value, child field or None) for a JSON object or array."""
    if type(value) is dict:
        if isinstance(field, fields.Nested) and isinstance(field.schema, Schema):
            known = _field_map(field.schema)
            return [(k, v, known.get(k)) for k, v in value.items()]
        inner = field.value_field if isinstance(field, fields.Dict) else None
        return [(str(k), v, inner) for k, v in value.items()]
    inner = field.inner if isinstance(field, fields.List) else field
    return [(str(i), v, inner) for i, v in enumerate(value)]


def text_errors(data: Any, schema: Schema) -> dict[str, list[str]]:
    """{"claimant.name": ["Must not contain ..."]} for every string in `data` that may not
    be stored. Iterative (no recursion limit), keys checked as single-line text."""
    errors: dict[str, list[str]] = {}
    if not isinstance(data, Mapping):
        return errors
    items = _items(data)
    if not _any_control(items):
        return errors  # the common case: nothing to look at field by field
    known = _field_map(schema)
    stack = [(str(k), str(k), v, known.get(str(k))) for k, v in items]
    while stack:
        path, key, value, field = stack.pop()
        problem = text_problem(key)
        if problem:
            errors.setdefault(path, []).append(f"Field name: {problem}")
            continue
        kind = type(value)
        if kind is str:
            problem = text_problem(value, free_text=isinstance(field, FreeText))
            if problem:
                errors.setdefault(path, []).append(problem)
        elif kind is dict or kind is list:
            stack.extend((f"{path}.{k}", k, v, f) for k, v, f in _children(value, field))
    return errors


_CONTROL_OR_SURROGATE = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")


def _any_control(items: list[tuple[Any, Any]]) -> bool:
    """Whether any key or string anywhere holds a control character or a surrogate (one
    regex pass over all of them; tab and line breaks count, so free text with line breaks
    takes the field-by-field path)."""
    parts: list[str] = []
    stack: list[Any] = []
    for key, value in items:
        parts.append(str(key))
        stack.append(value)
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is str:
            parts.append(item)
        elif kind is dict:
            parts.extend(map(str, item))
            stack.extend(item.values())
        elif kind is list:
            stack.extend(item)
    return _CONTROL_OR_SURROGATE.search(" ".join(parts)) is not None


def _items(data: Mapping[Any, Any]) -> list[tuple[Any, Any]]:
    getlist = getattr(data, "getlist", None)  # query strings: every value of a repeated key
    if getlist is not None:
        return [(k, v) for k in data for v in getlist(k)]
    return list(data.items())


# Fields whose text is parsed as digits: int(), Decimal() and the ISO date parsers take
# any Unicode digit ("٣٠" is 30), so their text must be ASCII (0-9) before they read it.
_DIGIT_FIELDS = (fields.Number, fields.Date, fields.DateTime, fields.Time, fields.TimeDelta)
ASCII_DIGITS_ONLY = "Write digits 0-9 only."


def digit_errors(data: Any, schema: Schema) -> dict[str, list[str]]:
    """{"limit": [ASCII_DIGITS_ONLY]} for each numeric or date field given as text that
    is not plain ASCII."""
    errors: dict[str, list[str]] = {}
    if not isinstance(data, Mapping):
        return errors
    known = _field_map(schema)
    for key, value in _items(data):
        field = known.get(str(key))
        if isinstance(field, fields.List):
            field, values = field.inner, value if isinstance(value, list) else [value]
        else:
            values = [value]
        if isinstance(field, _DIGIT_FIELDS) and any(
            isinstance(v, str) and not v.isascii() for v in values
        ):
            errors.setdefault(str(key), []).append(ASCII_DIGITS_ONLY)
    return errors


class RequestSchema(Schema):
    """Base of every schema that reads a request (body, query string, form)."""

    @pre_load
    def _refuse_unstorable_text(self, data: Any, **kwargs: Any) -> Any:
        errors = text_errors(data, self)
        errors.update(digit_errors(data, self))
        if errors:
            raise ValidationError(errors)
        return data
