from __future__ import annotations

import copy
from typing import Any, Literal

import pytest
from pydantic import BaseModel, Field

from contracts.compat import incompatibilities

STRING: dict[str, Any] = {"type": "string"}
INTEGER: dict[str, Any] = {"type": "integer"}
NULL: dict[str, Any] = {"type": "null"}


def obj(required: tuple[str, ...] = (), **properties: Any) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    return schema


def nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, NULL], "default": None}


def payment(**money_properties: Any) -> dict[str, Any]:
    """A pydantic-shaped schema: a model referencing a nested model through $defs."""
    money = {"amount_minor": INTEGER, "currency": {"type": "string", "pattern": "^[A-Z]{3}$"}}
    money.update(money_properties)
    return {
        "$defs": {
            "Money": {
                "type": "object",
                "title": "Money",
                "properties": money,
                "required": ["amount_minor", "currency"],
            }
        },
        "type": "object",
        "title": "PaymentSucceeded",
        "properties": {
            "order_id": {"type": "string", "format": "uuid"},
            "amount": {"$ref": "#/$defs/Money", "description": "Paid amount."},
        },
        "required": ["order_id", "amount"],
    }


class TestCompatible:
    def test_identical(self) -> None:
        assert incompatibilities(payment(), payment()) == []

    def test_an_enum_opened_into_a_pattern_every_old_value_matches(self) -> None:
        old = obj(("c",), c={"type": "string", "enum": ["ru", "en"]})
        new = obj(("c",), c={"type": "string", "pattern": "^[a-z]{2,3}(-[A-Za-z]+)*$"})
        assert incompatibilities(old, new) == []

    def test_new_optional_field(self) -> None:
        old = obj(("a",), a=STRING)
        new = obj(("a",), a=STRING, b=nullable(STRING))
        assert incompatibilities(old, new) == []

    def test_new_optional_field_with_a_default(self) -> None:
        new = obj(("a",), a=STRING, tags={"type": "array", "items": STRING, "default": []})
        assert incompatibilities(obj(("a",), a=STRING), new) == []

    def test_new_optional_field_in_a_nested_model(self) -> None:
        new = payment(note=nullable(STRING))
        assert incompatibilities(payment(), new) == []

    def test_descriptions_titles_and_examples_may_change(self) -> None:
        new = payment()
        new["description"] = "Much better words."
        new["title"] = "Renamed"
        new["properties"]["amount"]["description"] = "The amount the provider confirmed."
        new["$defs"]["Money"]["properties"]["currency"]["examples"] = ["RUB"]
        assert incompatibilities(payment(), new) == []

    def test_renamed_definition(self) -> None:
        new = payment()
        new["$defs"] = {"Amount": new["$defs"].pop("Money")}
        new["properties"]["amount"]["$ref"] = "#/$defs/Amount"
        assert incompatibilities(payment(), new) == []

    def test_inlined_definition(self) -> None:
        new = payment()
        new["properties"]["amount"] = copy.deepcopy(new.pop("$defs")["Money"])
        assert incompatibilities(payment(), new) == []

    def test_widened_enum(self) -> None:
        old = obj(("c",), c={"type": "string", "enum": ["ru", "en"]})
        new = obj(("c",), c={"type": "string", "enum": ["ru", "en", "kk"]})
        assert incompatibilities(old, new) == []

    def test_literal_widened_to_an_enum(self) -> None:
        old = obj(("c",), c={"type": "string", "const": "telegram"})
        new = obj(("c",), c={"type": "string", "enum": ["telegram", "email"]})
        assert incompatibilities(old, new) == []

    def test_enum_dropped_entirely(self) -> None:
        old = obj(("c",), c={"type": "string", "enum": ["ru", "en"]})
        assert incompatibilities(old, obj(("c",), c=STRING)) == []

    def test_required_field_becoming_optional(self) -> None:
        old = obj(("a", "b"), a=STRING, b=STRING)
        new = obj(("a",), a=STRING, b={"type": "string", "default": "x"})
        assert incompatibilities(old, new) == []

    def test_relaxed_constraints(self) -> None:
        old = obj(("a",), a={"type": "string", "maxLength": 32, "minLength": 3, "pattern": "^a"})
        new = obj(("a",), a={"type": "string", "maxLength": 64, "minLength": 1})
        assert incompatibilities(old, new) == []

    def test_reordered_union(self) -> None:
        old = obj(a={"anyOf": [STRING, INTEGER]})
        new = obj(a={"anyOf": [INTEGER, STRING]})
        assert incompatibilities(old, new) == []

    def test_recursive_definitions_terminate(self) -> None:
        tree = {
            "$defs": {"Node": obj(children={"type": "array", "items": {"$ref": "#/$defs/Node"}})},
            "$ref": "#/$defs/Node",
        }
        assert incompatibilities(tree, copy.deepcopy(tree)) == []

    def test_allof_wrapped_reference(self) -> None:
        new = payment()
        new["properties"]["amount"] = {"allOf": [{"$ref": "#/$defs/Money"}], "description": "x"}
        assert incompatibilities(payment(), new) == []


class TestIncompatible:
    def test_removed_field(self) -> None:
        old = obj(("a", "b"), a=STRING, b=STRING)
        assert incompatibilities(old, obj(("a",), a=STRING)) == ["b: field removed"]

    def test_removed_optional_field(self) -> None:
        old = obj(("a",), a=STRING, b=nullable(STRING))
        assert incompatibilities(old, obj(("a",), a=STRING)) == ["b: field removed"]

    def test_removed_field_of_a_nested_model(self) -> None:
        new = payment()
        del new["$defs"]["Money"]["properties"]["currency"]
        new["$defs"]["Money"]["required"] = ["amount_minor"]
        assert incompatibilities(payment(), new) == ["amount.currency: field removed"]

    def test_changed_type(self) -> None:
        old = obj(("a",), a=INTEGER)
        assert incompatibilities(old, obj(("a",), a=STRING)) == [
            "a: type changed from integer to string"
        ]

    def test_changed_type_in_defs(self) -> None:
        new = payment(amount_minor={"type": "number"})
        assert incompatibilities(payment(), new) == [
            "amount.amount_minor: type changed from integer to number"
        ]

    def test_changed_type_of_a_field_to_a_model(self) -> None:
        new = payment()
        new["properties"]["order_id"] = {"$ref": "#/$defs/Money"}
        assert incompatibilities(payment(), new) == ["order_id: type changed from string to object"]

    def test_becoming_nullable_is_a_type_change(self) -> None:
        old = obj(("a",), a=STRING)
        new = obj(("a",), a={"anyOf": [STRING, NULL]})
        assert incompatibilities(old, new) == ["a: type changed from string to null|string"]

    def test_losing_null_is_a_type_change(self) -> None:
        old = obj(a=nullable(STRING))
        assert incompatibilities(old, obj(a=STRING)) == [
            "a: type changed from null|string to string"
        ]

    def test_typed_value_becoming_anything(self) -> None:
        assert incompatibilities(obj(a=STRING), obj(a={})) == ["a: type changed from string to any"]

    def test_anything_becoming_typed(self) -> None:
        assert incompatibilities(obj(a={}), obj(a=STRING)) == ["a: type changed from any to string"]

    def test_new_required_field(self) -> None:
        new = obj(("a", "b"), a=STRING, b=STRING)
        assert incompatibilities(obj(("a",), a=STRING), new) == ["b: new required field"]

    def test_new_required_field_in_a_nested_model(self) -> None:
        new = payment(vat_minor=INTEGER)
        new["$defs"]["Money"]["required"].append("vat_minor")
        assert incompatibilities(payment(), new) == ["amount.vat_minor: new required field"]

    def test_optional_field_becoming_required(self) -> None:
        old = obj(("a",), a=STRING, b=STRING)
        new = obj(("a", "b"), a=STRING, b=STRING)
        assert incompatibilities(old, new) == ["b: field became required"]

    def test_narrowed_enum(self) -> None:
        old = obj(("c",), c={"type": "string", "enum": ["ru", "en"]})
        new = obj(("c",), c={"type": "string", "enum": ["ru"]})
        assert incompatibilities(old, new) == ["c: enum narrowed: no longer accepts 'en'"]

    def test_enum_narrowed_to_a_literal(self) -> None:
        old = obj(("c",), c={"type": "string", "enum": ["telegram", "email"]})
        new = obj(("c",), c={"type": "string", "const": "telegram"})
        assert incompatibilities(old, new) == ["c: enum narrowed: no longer accepts 'email'"]

    def test_changed_literal(self) -> None:
        old = obj(("c",), c={"type": "string", "const": "telegram"})
        new = obj(("c",), c={"type": "string", "const": "email"})
        assert incompatibilities(old, new) == ["c: enum narrowed: no longer accepts 'telegram'"]

    def test_an_enum_opened_into_constraints_an_old_value_fails(self) -> None:
        old = obj(("c",), c={"type": "string", "enum": ["ru", "en", "zh-Hant-TW"]})
        new = obj(("c",), c={"type": "string", "pattern": "^[a-z]{2}$", "maxLength": 2})
        assert incompatibilities(old, new) == ["c: constraints no longer accept 'zh-Hant-TW'"]

    def test_free_text_becoming_an_enum(self) -> None:
        new = obj(("c",), c={"type": "string", "enum": ["ru", "en"]})
        assert incompatibilities(obj(("c",), c=STRING), new) == [
            "c: enum narrowed: now only accepts 'en', 'ru'"
        ]

    def test_narrowed_enum_inside_an_optional_field(self) -> None:
        old = obj(c=nullable({"type": "string", "enum": ["ru", "en"]}))
        new = obj(c=nullable({"type": "string", "enum": ["en"]}))
        assert incompatibilities(old, new) == ["c: enum narrowed: no longer accepts 'ru'"]

    def test_narrowed_union_of_literals(self) -> None:
        old = obj(c={"anyOf": [{"const": "a"}, {"const": "b"}]})
        new = obj(c={"anyOf": [{"const": "b"}]})
        assert incompatibilities(old, new) == ["c: enum narrowed: no longer accepts 'a'"]

    def test_narrowed_enum_of_a_definition(self) -> None:
        def schema(values: list[str]) -> dict[str, Any]:
            return {
                "$defs": {"Language": {"type": "string", "enum": values}},
                **obj(("language",), language={"$ref": "#/$defs/Language"}),
            }

        assert incompatibilities(schema(["ru", "en"]), schema(["ru"])) == [
            "language: enum narrowed: no longer accepts 'en'"
        ]

    @pytest.mark.parametrize(
        ("old", "new", "problem"),
        [
            ({"maxLength": 64}, {"maxLength": 32}, "constraint maxLength narrowed from 64 to 32"),
            ({}, {"maxLength": 32}, "constraint maxLength added (32)"),
            ({"minLength": 1}, {"minLength": 3}, "constraint minLength narrowed from 1 to 3"),
            ({}, {"pattern": "^[a-z]+$"}, "constraint pattern added ('^[a-z]+$')"),
            ({"pattern": "^a"}, {"pattern": "^b"}, "constraint pattern narrowed from '^a' to '^b'"),
            ({}, {"format": "uuid"}, "constraint format added ('uuid')"),
        ],
    )
    def test_tightened_string_constraints(
        self, old: dict[str, Any], new: dict[str, Any], problem: str
    ) -> None:
        assert incompatibilities(obj(a={**STRING, **old}), obj(a={**STRING, **new})) == [
            f"a: {problem}"
        ]

    def test_tightened_number_bounds(self) -> None:
        old = obj(n={"type": "integer", "minimum": 0})
        new = obj(n={"type": "integer", "minimum": 1, "maximum": 10})
        assert incompatibilities(old, new) == [
            "n: constraint minimum narrowed from 0 to 1",
            "n: constraint maximum added (10)",
        ]

    def test_changed_array_items(self) -> None:
        old = obj(tags={"type": "array", "items": STRING})
        new = obj(tags={"type": "array", "items": INTEGER})
        assert incompatibilities(old, new) == ["tags[]: type changed from string to integer"]

    def test_changed_field_inside_array_items(self) -> None:
        def catalog(price: dict[str, Any]) -> dict[str, Any]:
            plan = obj(("price",), price=price)
            return {
                "$defs": {"Plan": plan},
                **obj(plans={"type": "array", "items": {"$ref": "#/$defs/Plan"}}),
            }

        assert incompatibilities(catalog(INTEGER), catalog(STRING)) == [
            "plans[].price: type changed from integer to string"
        ]

    def test_changed_dictionary_values(self) -> None:
        old = obj(params={"type": "object", "additionalProperties": {"anyOf": [STRING, INTEGER]}})
        new = obj(params={"type": "object", "additionalProperties": STRING})
        assert incompatibilities(old, new) == [
            "params.*: type changed from integer|string to string"
        ]

    def test_closing_an_open_object(self) -> None:
        new = {**obj(("a",), a=STRING), "additionalProperties": False}
        assert incompatibilities(obj(("a",), a=STRING), new) == [
            "(root): no longer accepts additional properties"
        ]

    def test_several_problems_are_all_reported(self) -> None:
        old = obj(("a", "b"), a=STRING, b=INTEGER)
        new = obj(("a", "c"), a=INTEGER, c=STRING)
        assert sorted(incompatibilities(old, new)) == [
            "a: type changed from string to integer",
            "b: field removed",
            "c: new required field",
        ]

    def test_same_definition_used_twice_is_reported_at_each_use(self) -> None:
        def schema(currency: dict[str, Any]) -> dict[str, Any]:
            return {
                "$defs": {"Money": obj(("currency",), currency=currency)},
                **obj(price={"$ref": "#/$defs/Money"}, paid={"$ref": "#/$defs/Money"}),
            }

        assert incompatibilities(schema(STRING), schema(INTEGER)) == [
            "price.currency: type changed from string to integer",
            "paid.currency: type changed from string to integer",
        ]

    def test_boolean_schemas(self) -> None:
        assert incompatibilities(obj(a=True), obj(a=STRING)) == [
            "a: type changed from any to string"
        ]
        assert incompatibilities(obj(a=STRING), obj(a=False)) == [
            "a: type changed from string to nothing"
        ]


class TestInvalidInput:
    def test_dangling_reference(self) -> None:
        with pytest.raises(ValueError, match="points nowhere"):
            incompatibilities(obj(a={"$ref": "#/$defs/Gone"}), obj(a=STRING))

    def test_remote_reference(self) -> None:
        with pytest.raises(ValueError, match="only local"):
            incompatibilities(obj(a={"$ref": "https://example.com/s.json"}), obj(a=STRING))


class TestOnPydanticModels:
    """The same rules on schemas pydantic generates, as the exporter feeds them."""

    def test_evolution_of_a_model(self) -> None:
        class MoneyV1(BaseModel):
            amount_minor: int
            currency: str

        class EventV1(BaseModel):
            order_id: str
            amount: MoneyV1
            channel: Literal["telegram", "email"]

        class MoneyAdditive(BaseModel):
            amount_minor: int
            currency: str
            vat_minor: int | None = None

        class EventAdditive(BaseModel):
            order_id: str = Field(description="Now documented.")
            amount: MoneyAdditive
            channel: Literal["telegram", "email", "push"]
            note: str | None = None

        class MoneyBroken(BaseModel):
            amount_minor: str
            currency: str

        class EventBroken(BaseModel):
            amount: MoneyBroken
            channel: Literal["telegram"]
            coupon: str

        v1 = EventV1.model_json_schema()
        assert incompatibilities(v1, EventAdditive.model_json_schema()) == []
        assert sorted(incompatibilities(v1, EventBroken.model_json_schema())) == [
            "amount.amount_minor: type changed from integer to string",
            "channel: enum narrowed: no longer accepts 'email'",
            "coupon: new required field",
            "order_id: field removed",
        ]
