"""The one place request text is checked: every request schema derives from RequestSchema.

Before any field is read, every string in the input (values and keys, however deep)
passes `service.domain.text.text_problem`: NUL, lone surrogates and control characters
are refused with a 422 that names the field. Fields declared `FreeText` (descriptions,
notes, rule text) may hold tab and line breaks; every other string is one line.
Path parameters get the same check from `TextConverter` (service/api/parsing.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from marshmallow import Schema, ValidationError, fields, pre_load

from service.domain.text import text_problem


class FreeText(fields.String):
    """A string that may span lines (tab, LF, CR allowed); other controls are refused."""


def _field_map(schema: Schema) -> dict[str, fields.Field]:
    return {f.data_key or name: f for name, f in schema.load_fields.items()}


def _children(value: Any, field: fields.Field | None) -> list[tuple[str, Any, Any]]:
    """(key, child value, child field or None) for a mapping or list."""
    if isinstance(value, Mapping):
        if isinstance(field, fields.Nested) and isinstance(field.schema, Schema):
            known = _field_map(field.schema)
            return [(str(k), v, known.get(str(k))) for k, v in value.items()]
        if isinstance(field, fields.Dict):
            return [(str(k), v, field.value_field) for k, v in value.items()]
        return [(str(k), v, None) for k, v in value.items()]
    inner = field.inner if isinstance(field, fields.List) else field
    if isinstance(field, fields.Nested) and field.many:
        inner = field
    return [(str(i), v, inner) for i, v in enumerate(value)]


def text_errors(data: Any, schema: Schema) -> dict[str, list[str]]:
    """{"claimant.name": ["Must not contain ..."]} for every string in `data` that may not
    be stored. Iterative (no recursion limit), keys checked as single-line text."""
    errors: dict[str, list[str]] = {}
    known = _field_map(schema)
    stack: list[tuple[str, str, Any, Any]] = []
    if isinstance(data, Mapping):
        stack = [(str(k), str(k), v, known.get(str(k))) for k, v in _items(data)]
    while stack:
        path, key, value, field = stack.pop()
        problem = text_problem(key)
        if problem:
            errors.setdefault(path, []).append(f"Field name: {problem}")
            continue
        if isinstance(value, str):
            problem = text_problem(value, free_text=isinstance(field, FreeText))
            if problem:
                errors.setdefault(path, []).append(problem)
        elif isinstance(value, (Mapping, list, tuple)):
            stack.extend((f"{path}.{k}", k, v, f) for k, v, f in _children(value, field))
    return errors


def _items(data: Mapping[Any, Any]) -> list[tuple[Any, Any]]:
    getlist = getattr(data, "getlist", None)  # query strings: every value of a repeated key
    if getlist is not None:
        return [(k, v) for k in data for v in getlist(k)]
    return list(data.items())


class RequestSchema(Schema):
    """Base of every schema that reads a request (body, query string, form)."""

    @pre_load
    def _refuse_unstorable_text(self, data: Any, **kwargs: Any) -> Any:
        errors = text_errors(data, self)
        if errors:
            raise ValidationError(errors)
        return data
