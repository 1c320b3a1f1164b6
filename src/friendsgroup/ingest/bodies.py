"""Loading many event bodies with the API's own schemas, field by field, exactly as ``load``."""

from marshmallow import RAISE, Schema, ValidationError, missing
from marshmallow import fields as ma_fields

# Values remembered per field before the memo starts again (bounds memory on huge files).
MEMO_LIMIT = 100_000


class BodyLoader:
    """``schema.load`` for many bodies, field by field with the schema's own fields.

    A value seen before is not loaded again. Whenever anything fails, the body goes to
    ``schema.load`` itself, so that the errors are exactly the API's.
    """

    def __init__(self, schema: Schema) -> None:
        self.schema = schema
        fields = schema.load_fields
        self.names = frozenset(fields)
        # name → (field, loader of its nested items or None, values loaded before)
        self.fields = {
            name: (f, BodyLoader(f.inner.schema) if _is_list_of_nested(f) else None, {})
            for name, f in fields.items()
        }
        # What an absent field loads to (its default), and the fields that must be present.
        self.defaults: dict = {}
        required = set()
        for name, f in fields.items():
            try:
                value = f.deserialize(missing, name, {})
            except ValidationError:
                required.add(name)
                continue
            if value is not missing:
                self.defaults[name] = value
        self.required = frozenset(required)
        self.fast = _loads_field_by_field(schema)

    def load(self, body: dict) -> dict:
        """The loaded body, or the schema's ValidationError."""
        if self.fast:
            try:
                return self._load_fields(body)
            except ValidationError:
                pass
        return self.schema.load(body)

    def _load_fields(self, body: dict) -> dict:
        if not self.names.issuperset(body) or not self.required.issubset(body):
            raise ValidationError("unknown or missing field")
        result = self.defaults.copy()
        fields = self.fields
        for name, raw in body.items():
            f, nested, memo = fields[name]
            if nested is not None and raw is not None:
                value = _load_list(f, nested, raw)
            else:
                key = raw if raw is None or type(raw) is str else _memo_key(raw)
                value = missing if key is None else memo.get(key, missing)
                if value is missing:
                    value = f.deserialize(raw, name, body)
                    if key is not None:
                        if len(memo) >= MEMO_LIMIT:
                            memo.clear()
                        memo[key] = value
            result[name] = value
        return result


def _load_list(f: ma_fields.List, nested: BodyLoader, raw) -> list:
    """A list of nested objects, item by item, then the list's own validators."""
    if type(raw) is not list or any(type(each) is not dict for each in raw):
        raise ValidationError("not a list of objects")
    value = [nested._load_fields(each) for each in raw]
    for validator in f.validators:
        validator(value)
    return value


def _memo_key(raw):
    """The key a loaded value is remembered under, or None to load it every time.

    Only text, null, absence and lists of int: 1, 1.0 and True are equal keys but not equal
    inputs. So an absent ``sources`` loads to one shared empty list: loaded bodies are read-only.
    """
    if raw is None or type(raw) is str or raw is missing:
        return raw
    if type(raw) is list and all(type(each) is int for each in raw):
        return tuple(raw)
    return None


def _is_list_of_nested(f: ma_fields.Field) -> bool:
    return isinstance(f, ma_fields.List) and isinstance(f.inner, ma_fields.Nested)


def _loads_field_by_field(schema: Schema) -> bool:
    """True when loading field by field is what ``schema.load`` does: no hooks, plain keys."""
    return (
        not any(schema._hooks.values())
        and schema.unknown == RAISE
        and not schema.partial
        and all(f.data_key is None and f.attribute is None for f in schema.load_fields.values())
        and all(
            _loads_field_by_field(f.inner.schema)
            and not f.inner.many
            and f.inner.only is None
            and not f.inner.exclude
            and f.inner.unknown is None
            for f in schema.load_fields.values()
            if _is_list_of_nested(f)
        )
    )
