"""Compatibility of two versions of one event's JSON Schema.

Within a version an event may only gain optional fields (and better descriptions): a
consumer built on the new schema must still read every record written under the old one,
and no consumer may lose a field it reads. Everything else needs a new ``.vN`` type.

Reported as incompatible: a removed field, a changed type (at any depth, through ``$ref``
and ``$defs``), a new required field or an optional one becoming required, a narrowed
enum or literal, and tightened constraints (bounds, lengths, pattern, format). Widening an
enum is allowed, also into constraints every old value passes (an enum of language codes
becoming a language-tag pattern): upgrade the consumers before the producer starts sending
the new values.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Final

Schema = Mapping[str, Any]

_LOWER_BOUNDS: Final = ("minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties")
_UPPER_BOUNDS: Final = ("maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties")
_EXACT_CONSTRAINTS: Final = ("pattern", "format", "multipleOf")
_UNION_KEYWORDS: Final = ("anyOf", "oneOf")


def incompatibilities(old_schema: Schema, new_schema: Schema) -> list[str]:
    """Why records valid under ``old_schema`` and its readers break with ``new_schema``.

    Each entry is ``"<field path>: <problem>"``, e.g. ``"amount.currency: type changed from
    string to integer"``; the path is ``(root)`` for the event itself, ``[]`` marks array
    items and ``*`` dictionary values. An empty list means compatible.
    """
    checker = _Checker(old_schema, new_schema)
    checker.compare(old_schema, new_schema, ())
    # A union is checked as a whole and branch by branch, which can say one thing twice.
    return list(dict.fromkeys(checker.problems))


class _Checker:
    def __init__(self, old_root: Schema, new_root: Schema) -> None:
        self.old_root = old_root
        self.new_root = new_root
        self.problems: list[str] = []
        self._in_progress: set[tuple[str, str]] = set()

    def report(self, path: tuple[str, ...], problem: str) -> None:
        self.problems.append(f"{_format_path(path)}: {problem}")

    def compare(self, old_raw: Any, new_raw: Any, path: tuple[str, ...]) -> None:
        old, old_ref = _resolve(old_raw, self.old_root)
        new, new_ref = _resolve(new_raw, self.new_root)
        # Recursive models: a pair of definitions already being compared further up the path
        # is being checked there.
        pair = (old_ref or "", new_ref or "")
        if old_ref is not None and new_ref is not None:
            if pair in self._in_progress:
                return
            self._in_progress.add(pair)
        try:
            self._compare_resolved(old, new, path)
        finally:
            self._in_progress.discard(pair)

    def _compare_resolved(self, old: Schema, new: Schema, path: tuple[str, ...]) -> None:
        old_types = _types(old, self.old_root)
        new_types = _types(new, self.new_root)
        if old_types != new_types:
            self.report(
                path, f"type changed from {_format_types(old_types)} to {_format_types(new_types)}"
            )
            return
        self._compare_values(old, new, path)
        self._compare_constraints(old, new, path)
        if _is_union(old) or _is_union(new):
            self._compare_branches(old, new, path)
            return
        if old_types is not None and "object" in old_types:
            self._compare_objects(old, new, path)
        if old_types is not None and "array" in old_types:
            self._compare_arrays(old, new, path)

    def _compare_values(self, old: Schema, new: Schema, path: tuple[str, ...]) -> None:
        new_values = _values(new, self.new_root)
        if new_values is None:
            return
        old_values = _values(old, self.old_root)
        if old_values is None:
            allowed = ", ".join(sorted(new_values.values()))
            self.report(path, f"enum narrowed: now only accepts {allowed}")
            return
        removed = [text for key, text in old_values.items() if key not in new_values]
        if removed:
            self.report(path, f"enum narrowed: no longer accepts {', '.join(sorted(removed))}")

    def _compare_constraints(self, old: Schema, new: Schema, path: tuple[str, ...]) -> None:
        old_values = _values(old, self.old_root)
        if old_values is not None:
            # An enum opened up to a constrained set (a language from ["ru","en"] to any tag):
            # compatible exactly when every value the old schema allowed still passes.
            refused = [
                text for key, text in old_values.items() if not _satisfies(json.loads(key), new)
            ]
            if refused:
                self.report(path, f"constraints no longer accept {', '.join(sorted(refused))}")
            return
        for keyword in _LOWER_BOUNDS:
            if keyword in new and (keyword not in old or new[keyword] > old[keyword]):
                self.report(path, _narrowed(keyword, old.get(keyword), new[keyword]))
        for keyword in _UPPER_BOUNDS:
            if keyword in new and (keyword not in old or new[keyword] < old[keyword]):
                self.report(path, _narrowed(keyword, old.get(keyword), new[keyword]))
        for keyword in _EXACT_CONSTRAINTS:
            if keyword in new and old.get(keyword) != new[keyword]:
                self.report(path, _narrowed(keyword, old.get(keyword), new[keyword]))
        if new.get("uniqueItems") is True and old.get("uniqueItems") is not True:
            self.report(path, "constraint uniqueItems added")

    def _compare_branches(self, old: Schema, new: Schema, path: tuple[str, ...]) -> None:
        new_branches = [(raw, *_resolve(raw, self.new_root)) for raw in _branches(new)]
        for old_raw in _branches(old):
            old_branch, old_ref = _resolve(old_raw, self.old_root)
            old_types = _types(old_branch, self.old_root)
            candidates = [
                (raw, branch, ref)
                for raw, branch, ref in new_branches
                if _types(branch, self.new_root) == old_types
            ]
            if not candidates:
                self.report(path, f"no longer accepts {_format_types(old_types)}")
                continue
            # Several branches of one type (a union of models or of literals): pair them by
            # definition name, else by the values they accept.
            old_values = _values(old_branch, self.old_root)
            best = (
                [c for c in candidates if old_ref and _ref_name(c[2]) == _ref_name(old_ref)]
                or [c for c in candidates if _covers(_values(c[1], self.new_root), old_values)]
                or candidates
            )
            self.compare(old_raw, best[0][0], path)

    def _compare_objects(self, old: Schema, new: Schema, path: tuple[str, ...]) -> None:
        old_properties: Mapping[str, Any] = old.get("properties", {})
        new_properties: Mapping[str, Any] = new.get("properties", {})
        old_required = set(old.get("required", ()))
        new_required = set(new.get("required", ()))
        for name, old_property in old_properties.items():
            if name not in new_properties:
                self.report((*path, name), "field removed")
                continue
            if name in new_required and name not in old_required:
                self.report((*path, name), "field became required")
            self.compare(old_property, new_properties[name], (*path, name))
        for name in new_properties:
            if name not in old_properties and name in new_required:
                self.report((*path, name), "new required field")

        old_additional = old.get("additionalProperties", True)
        new_additional = new.get("additionalProperties", True)
        if old_additional is False:
            return
        if new_additional is False:
            self.report(path, "no longer accepts additional properties")
            return
        if old_additional is True and new_additional is True:
            return
        self.compare(old_additional, new_additional, (*path, "*"))

    def _compare_arrays(self, old: Schema, new: Schema, path: tuple[str, ...]) -> None:
        old_prefix: Sequence[Any] = old.get("prefixItems", ())
        new_prefix: Sequence[Any] = new.get("prefixItems", ())
        for index, old_item in enumerate(old_prefix):
            if index >= len(new_prefix):
                self.report((*path, f"[{index}]"), "tuple position removed")
            else:
                self.compare(old_item, new_prefix[index], (*path, f"[{index}]"))
        if "items" in old or "items" in new:
            self.compare(old.get("items", True), new.get("items", True), (*path, "[]"))


def _resolve(schema: Any, root: Schema) -> tuple[Schema, str | None]:
    """Follow ``$ref`` (and single-schema ``allOf`` wrappers); sibling keywords are kept."""
    ref: str | None = None
    seen: set[str] = set()
    current = _as_schema(schema)
    while True:
        if "$ref" in current:
            target = current["$ref"]
            if target in seen:
                raise ValueError(f"$ref cycle at {target}")
            seen.add(target)
            ref = target
            siblings = {key: value for key, value in current.items() if key != "$ref"}
            current = {**_as_schema(_pointer(root, target)), **siblings}
        elif "allOf" in current and all(isinstance(part, Mapping) for part in current["allOf"]):
            merged: dict[str, Any] = {}
            for part in current["allOf"]:
                merged.update(part)
            siblings = {key: value for key, value in current.items() if key != "allOf"}
            current = {**merged, **siblings}
        else:
            return current, ref


def _as_schema(schema: Any) -> Schema:
    if schema is True:
        return {}
    if schema is False:
        return {"not": {}}
    if isinstance(schema, Mapping):
        return schema
    raise ValueError(f"not a JSON Schema: {schema!r:.80}")


def _pointer(root: Schema, ref: str) -> Any:
    if not ref.startswith("#"):
        raise ValueError(f"only local $ref is supported, got {ref!r}")
    node: Any = root
    for raw in ref[1:].split("/")[1:]:
        part = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            raise ValueError(f"$ref {ref!r} points nowhere")
    return node


def _ref_name(ref: str | None) -> str | None:
    return None if ref is None else ref.rsplit("/", 1)[-1]


def _is_union(schema: Schema) -> bool:
    return any(keyword in schema for keyword in _UNION_KEYWORDS)


def _branches(schema: Schema) -> Iterator[Any]:
    found = False
    for keyword in _UNION_KEYWORDS:
        if keyword in schema:
            found = True
            yield from schema[keyword]
    if not found:
        yield schema


def _types(schema: Schema, root: Schema) -> frozenset[str] | None:
    """The JSON types the schema accepts; ``None`` for any type."""
    if "type" in schema:
        declared = schema["type"]
        return frozenset(declared if isinstance(declared, list) else [declared])
    if "const" in schema:
        return frozenset([_json_type(schema["const"])])
    if "enum" in schema:
        return frozenset(_json_type(value) for value in schema["enum"])
    if _is_union(schema):
        union: set[str] = set()
        for branch in _branches(schema):
            branch_types = _types(_resolve(branch, root)[0], root)
            if branch_types is None:
                return None
            union |= branch_types
        return frozenset(union)
    if any(key in schema for key in ("properties", "additionalProperties", "required")):
        return frozenset(["object"])
    if "items" in schema or "prefixItems" in schema:
        return frozenset(["array"])
    if schema.get("not") == {}:
        return frozenset()
    return None


def _values(schema: Schema, root: Schema) -> dict[str, str] | None:
    """Allowed values (canonical JSON -> display), ``None`` if not restricted to a list."""
    if "const" in schema:
        return _keyed([schema["const"]])
    if "enum" in schema:
        return _keyed(schema["enum"])
    if _is_union(schema):
        values: dict[str, str] = {}
        for branch in _branches(schema):
            branch_values = _values(_resolve(branch, root)[0], root)
            if branch_values is None:
                return None
            values.update(branch_values)
        return values
    return None


def _satisfies(value: Any, schema: Schema) -> bool:
    """Whether one value passes the string and number constraints of ``schema``."""
    if isinstance(value, str):
        return (
            len(value) >= schema.get("minLength", 0)
            and len(value) <= schema.get("maxLength", len(value))
            and ("pattern" not in schema or re.search(schema["pattern"], value) is not None)
        )
    if isinstance(value, int | float) and not isinstance(value, bool):
        return (
            value >= schema.get("minimum", value)
            and value <= schema.get("maximum", value)
            and ("exclusiveMinimum" not in schema or value > schema["exclusiveMinimum"])
            and ("exclusiveMaximum" not in schema or value < schema["exclusiveMaximum"])
            and ("multipleOf" not in schema or value % schema["multipleOf"] == 0)
        )
    return True


def _covers(new_values: dict[str, str] | None, old_values: dict[str, str] | None) -> bool:
    if new_values is None:
        return True
    return old_values is not None and old_values.keys() <= new_values.keys()


def _keyed(values: Sequence[Any]) -> dict[str, str]:
    return {json.dumps(value, sort_keys=True): repr(value) for value in values}


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _narrowed(keyword: str, old: Any, new: Any) -> str:
    if old is None:
        return f"constraint {keyword} added ({new!r})"
    return f"constraint {keyword} narrowed from {old!r} to {new!r}"


def _format_types(types: frozenset[str] | None) -> str:
    if types is None:
        return "any"
    if not types:
        return "nothing"
    return "|".join(sorted(types))


def _format_path(path: tuple[str, ...]) -> str:
    text = ""
    for part in path:
        if part.startswith("["):
            text += part
        else:
            text += f".{part}" if text else part
    return text or "(root)"
