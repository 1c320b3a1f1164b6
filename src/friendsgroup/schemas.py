"""Marshmallow schemas: the contract of every request and response body."""

import re
from datetime import UTC

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from .models import BOUNDS, EVENT_TYPES, PARTICIPANT_KINDS, RELIABILITIES
from .timeutil import INTERVALS, isoformat_z

CODE_PATTERN = re.compile(r"^[A-Za-z0-9-]{2,32}$")
DAY_PATTERN = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
SLUG_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")
# Cursors are unpadded base64url (api/pages.py): 500 of these bytes whatever the encoding.
CURSOR_PATTERN = re.compile(r"^[A-Za-z0-9_-]*$")
# An ISO 8601 instant needs far less; a longer one (digits of a second without end) is refused.
TIMESTAMP_MAX_LENGTH = 64
URL_VALIDATOR = validate.URL(schemes={"http", "https"}, require_tld=False)
# What the document says of every text (JSON Schema cannot say "no lone surrogates").
NO_NUL_PATTERN = r"^[^\x00]*$"
# An http(s) URI in the characters RFC 3986 allows (others are percent-encoded).
URL_PATTERN = re.compile(
    r"^[Hh][Tt][Tt][Pp][Ss]?://(?:[A-Za-z0-9._~:/?#\[\]@!$&'()*+,;=-]|%[0-9A-Fa-f]{2})+$"
)
# An integer in a query string: ASCII digits, no sign, fraction, space or ``_``.
QUERY_INTEGER_PATTERN = re.compile(r"^[0-9]+$")


class BaseSchema(Schema):
    """Every body refuses unknown fields."""

    class Meta:
        unknown = RAISE


class Text(fields.String):
    """A string that is valid UTF-8 text without NUL characters, within a length limit."""

    def __init__(self, *, max_length: int, min_length: int = 0, **kwargs) -> None:
        kwargs["metadata"] = {"pattern": NO_NUL_PATTERN, **kwargs.get("metadata", {})}
        super().__init__(validate=validate.Length(min=min_length, max=max_length), **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        if "\x00" in text:
            raise ValidationError("must not contain NUL characters")
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as error:
            raise ValidationError("must be valid Unicode text (no lone surrogates)") from error
        return text


class Code(Text):
    """A participant code: 2–32 characters of A–Z, 0–9 and ``-``; returned upper-case."""

    def __init__(self, **kwargs) -> None:
        metadata = {"pattern": CODE_PATTERN.pattern, **kwargs.pop("metadata", {})}
        super().__init__(max_length=32, metadata=metadata, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        if not CODE_PATTERN.match(text):
            raise ValidationError("must be 2-32 characters of A-Z, 0-9 and '-'")
        return text.upper()


class Slug(Text):
    """A group or instrument slug: lower-case letters, digits and inner hyphens."""

    def __init__(self, **kwargs) -> None:
        metadata = {"pattern": SLUG_PATTERN.pattern, **kwargs.pop("metadata", {})}
        super().__init__(max_length=64, metadata=metadata, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        if not SLUG_PATTERN.match(text):
            raise ValidationError("must be lower-case letters, digits and inner '-'")
        return text


class Url(Text):
    """An absolute http(s) URL."""

    def __init__(self, **kwargs) -> None:
        metadata = {"format": "uri", "pattern": URL_PATTERN.pattern}
        super().__init__(max_length=2000, metadata=metadata, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        if not URL_PATTERN.match(text):
            # The validator's own message: one message for every URL refused.
            raise ValidationError(URL_VALIDATOR.error.format(input=text))
        URL_VALIDATOR(text)
        return text


class QueryInteger(fields.Integer):
    """An integer query parameter written in ASCII digits (``int()`` also takes ``+1``,
    `` 1``, ``1_0`` and ``١``, which the document's ``integer`` does not)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str) and not QUERY_INTEGER_PATTERN.match(value):
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


class Day(fields.Date):
    """A date written ``YYYY-MM-DD`` as the API promises (not ``20250601`` or ``2025-W01-1``)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not (isinstance(value, str) and DAY_PATTERN.match(value)):
            raise self.make_error("invalid", input=value, obj_type=self.OBJ_TYPE)
        return super()._deserialize(value, attr, data, **kwargs)


class BoundedList(fields.List):
    """A list whose length is checked before its items: a 10,000-item list costs one message."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, list | tuple):
            for validator in self.validators:
                if isinstance(validator, validate.Length):
                    validator(value)
        return super()._deserialize(value, attr, data, **kwargs)


class Timestamp(fields.DateTime):
    """An ISO 8601 instant; dumped in UTC with ``Z``; a naive value is read as UTC."""

    def __init__(self, **kwargs) -> None:
        metadata = {"maxLength": TIMESTAMP_MAX_LENGTH, **kwargs.pop("metadata", {})}
        super().__init__(metadata=metadata, **kwargs)

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else isoformat_z(value)

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str) and len(value) > TIMESTAMP_MAX_LENGTH:
            raise ValidationError(f"is longer than {TIMESTAMP_MAX_LENGTH} characters")
        moment = super()._deserialize(value, attr, data, **kwargs)
        if moment.tzinfo is None:
            return moment.replace(tzinfo=UTC)
        try:
            return moment.astimezone(UTC)
        except OverflowError as error:
            # 0001-01-01T00:00:00+05:00 is a valid ISO 8601 instant before datetime.min in UTC
            raise ValidationError("is out of range") from error


class SourceSchema(BaseSchema):
    """Where a fact comes from."""

    url = Url(required=True)
    title = Text(max_length=300, allow_none=True)
    publisher = Text(max_length=300, allow_none=True)
    published_on = Day(allow_none=True)
    reliability = fields.String(load_default="unverified", validate=validate.OneOf(RELIABILITIES))


class ParticipantRefSchema(BaseSchema):
    """A participant as it appears inside an event."""

    code = fields.String(dump_only=True)
    name = fields.String(dump_only=True)
    kind = fields.String(dump_only=True)


# Countries register themselves from ISO 3166-1 on first use.
REGISTRABLE_KINDS = [kind for kind in PARTICIPANT_KINDS if kind != "country"]


class RegistrableKind(validate.OneOf):
    """A region or an organisation; a country is told why not (documented as the enum)."""

    def __init__(self) -> None:
        super().__init__(REGISTRABLE_KINDS)

    def __call__(self, value):
        if value == "country":
            raise ValidationError(
                "countries need no registration: use their ISO 3166-1 code in an event"
            )
        return super().__call__(value)


class ParticipantCreateSchema(BaseSchema):
    """Body of ``POST /participants``: a region or an organisation."""

    code = Code(required=True)
    name = Text(required=True, min_length=1, max_length=300)
    kind = fields.String(required=True, validate=RegistrableKind())
    url = Url(allow_none=True)


class ParticipantPatchSchema(BaseSchema):
    """Body of ``PATCH /participants/{code}``: a new name (the old one stays an alias), aliases."""

    name = Text(min_length=1, max_length=300)
    aliases = BoundedList(Text(min_length=1, max_length=300), validate=validate.Length(max=50))
    # The rule below, in the document (api.DocumentPlugin adds it to the schema).
    JSON_SCHEMA_EXTRA = {"minProperties": 1}

    @validates_schema
    def something(self, data, **_kwargs):
        if not data:
            raise ValidationError("give a new name or aliases to add", "name")


def _other_names(participant) -> list[dict]:
    """A participant's aliases other than its current name (an ORM row or a standing dict)."""
    aliases = participant["aliases"] if isinstance(participant, dict) else participant.aliases
    return [{"name": a.name, "kind": a.kind} for a in aliases if a.kind != "name"]


class ParticipantSchema(BaseSchema):
    """A participant."""

    code = fields.String()
    name = fields.String()
    kind = fields.String()
    region = fields.String(allow_none=True)
    sub_region = fields.String(allow_none=True)
    url = fields.String(allow_none=True)
    aliases = fields.Function(
        _other_names,
        metadata={
            "description": "Other names it goes by: `{name, kind}`, kind common, official, "
            "former or added; `q` matches them"
        },
    )


class PeriodSchema(BaseSchema):
    """One membership or commitment period; ``until`` is null while it lasts."""

    since = Day()
    until = Day(allow_none=True)
    since_uncertain = fields.Boolean()


class ParticipantMembershipSchema(BaseSchema):
    """A participant's periods in one group."""

    group = fields.String()
    member = fields.Boolean()
    periods = fields.List(fields.Nested(PeriodSchema))


class ParticipantCommitmentSchema(BaseSchema):
    """A participant's standing under one instrument."""

    instrument = fields.String()
    committed = fields.Boolean()
    provisions = fields.List(fields.Integer(), allow_none=True)
    periods = fields.List(fields.Nested(PeriodSchema))
    last_report_on = Day(allow_none=True)


class ParticipantDetailSchema(ParticipantSchema):
    """A participant with its derived history as of a date and an instant."""

    as_of = Day()
    known_at = Timestamp()
    memberships = fields.List(fields.Nested(ParticipantMembershipSchema))
    commitments = fields.List(fields.Nested(ParticipantCommitmentSchema))


class GroupCreateSchema(BaseSchema):
    """Body of ``POST /groups``."""

    slug = Slug(required=True)
    name = Text(required=True, min_length=1, max_length=300)
    established_on = Day(required=True)
    member_kinds = BoundedList(
        fields.String(validate=validate.OneOf(PARTICIPANT_KINDS)),
        required=True,
        validate=validate.Length(min=1, max=3),
    )
    url = Url(allow_none=True)
    description = Text(max_length=5000, allow_none=True)


class GroupSchema(GroupCreateSchema):
    """A group."""


class ProvisionSchema(BaseSchema):
    """One numbered provision of an instrument."""

    number = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=1000))
    title = Text(required=True, min_length=1, max_length=300)


class InstrumentCreateSchema(BaseSchema):
    """Body of ``POST /instruments``."""

    slug = Slug(required=True)
    name = Text(required=True, min_length=1, max_length=300)
    short_name = Text(max_length=300, allow_none=True)
    adopted_on = Day(required=True)
    url = Url(allow_none=True)
    description = Text(max_length=5000, allow_none=True)
    group = Slug(allow_none=True)
    provisions = BoundedList(
        fields.Nested(ProvisionSchema),
        load_default=list,
        validate=validate.Length(max=1000),
        # JSON Schema's uniqueItems compares whole items; the rule is on their numbers.
        metadata={"description": "provision numbers must be unique"},
    )

    @validates_schema
    def provision_numbers_unique(self, data, **_kwargs):
        numbers = [p["number"] for p in data.get("provisions") or []]
        if len(numbers) != len(set(numbers)):
            raise ValidationError("provision numbers must be unique", "provisions")


class InstrumentSchema(InstrumentCreateSchema):
    """An instrument with its provisions."""

    group = fields.Function(lambda i: i.group.slug if i.group else None)


class EventCreateSchema(BaseSchema):
    """Body of an accession or withdrawal."""

    participant = Code(required=True)
    effective_on = Day(required=True)
    earliest_on = Day(allow_none=True)
    sources = BoundedList(
        fields.Nested(SourceSchema), load_default=list, validate=validate.Length(max=20)
    )
    note = Text(max_length=5000, allow_none=True)


def _provisions_field() -> fields.List:
    """``null`` for all provisions, or a list of distinct provision numbers."""
    return BoundedList(
        fields.Integer(strict=True, validate=validate.Range(min=1, max=1000)),
        allow_none=True,
        load_default=None,
        validate=validate.Length(min=1, max=1000),
        metadata={"uniqueItems": True},
    )


class CommitmentCreateSchema(EventCreateSchema):
    """Body of a commitment: all provisions (null) or the listed ones."""

    provisions = _provisions_field()


class ReportCreateSchema(EventCreateSchema):
    """Body of a report: a published report needs at least one source."""

    sources = BoundedList(
        fields.Nested(SourceSchema), required=True, validate=validate.Length(min=1, max=20)
    )


class RetractionSchema(BaseSchema):
    """Body of a retraction."""

    reason = Text(required=True, min_length=1, max_length=5000)


def _correcting(text: str) -> dict:
    return {"description": text}


class CorrectionSchema(BaseSchema):
    """Body of a correction: the reason and the fields that change.

    Field by field: an omitted field is copied from the corrected event; a given one replaces
    it; ``null`` clears it (``earliest_on``, ``note``; ``provisions: null`` means all
    provisions). ``sources`` replaces the sources, ``add_sources`` appends to them. A
    correction that changes nothing is refused (422).
    """

    reason = Text(
        required=True, min_length=1, max_length=5000, metadata=_correcting("Why (required).")
    )
    effective_on = Day(metadata=_correcting("Replaces the date; omitted: copied."))
    earliest_on = Day(
        allow_none=True,
        metadata=_correcting("Replaces the window's start; `null` clears the window (exact date)."),
    )
    sources = BoundedList(
        fields.Nested(SourceSchema),
        validate=validate.Length(max=20),
        metadata=_correcting("Replaces every source; omitted: copied."),
    )
    add_sources = BoundedList(
        fields.Nested(SourceSchema),
        validate=validate.Length(min=1, max=20),
        metadata=_correcting("Appended to the sources (copied or replaced)."),
    )
    note = Text(
        max_length=5000,
        allow_none=True,
        metadata=_correcting("Replaces the note; `null` clears a stale one; omitted: copied."),
    )
    provisions = BoundedList(
        fields.Integer(strict=True, validate=validate.Range(min=1, max=1000)),
        allow_none=True,
        validate=validate.Length(min=1, max=1000),
        metadata=_correcting("A commitment's provisions; `null`: all; omitted: copied."),
    )


class EventSchema(BaseSchema):
    """An event as recorded, with its retraction and supersession marks."""

    id = fields.Integer()
    type = fields.String()
    group = fields.Function(lambda e: e.group.slug if e.group else None)
    instrument = fields.Function(lambda e: e.instrument.slug if e.instrument else None)
    participant = fields.Nested(ParticipantRefSchema)
    effective_on = Day()
    earliest_on = Day(allow_none=True)
    provisions = fields.List(fields.Integer(), allow_none=True)
    note = fields.String(allow_none=True)
    sources = fields.List(fields.Nested(SourceSchema))
    recorded_at = Timestamp()
    recorded_by = fields.String()
    retracted_at = Timestamp(allow_none=True)
    retraction_reason = fields.String(allow_none=True)
    retracted_by = fields.String(allow_none=True)
    supersedes = fields.Function(lambda e: e.supersedes_id)
    superseded_by = fields.Function(lambda e: e.superseded_by.id if e.superseded_by else None)


def _count_field(**kwargs) -> fields.Integer:
    return fields.Integer(strict=True, validate=validate.Range(min=0, max=10**6), **kwargs)


BOUND_DESCRIPTION = (
    'How `count` relates to the true total: `exact` (the default), `at_least` ("more than 60"),'
    ' `at_most` ("up to 60") or `about` ("some 50").'
)


def _bound_field(**kwargs) -> fields.String:
    return fields.String(
        validate=validate.OneOf(BOUNDS), metadata={"description": BOUND_DESCRIPTION}, **kwargs
    )


class AnnouncementCreateSchema(BaseSchema):
    """Body of ``POST /groups/{slug}/announcements``."""

    as_of = Day(required=True)
    count = _count_field(required=True)
    bound = _bound_field(load_default="exact")
    source = fields.Nested(SourceSchema, required=True)
    note = Text(max_length=5000, allow_none=True)


class AnnouncementSchema(AnnouncementCreateSchema):
    """An announced total, with its retraction and supersession marks."""

    id = fields.Integer()
    group = fields.Function(lambda a: a.group.slug)
    recorded_at = Timestamp()
    recorded_by = fields.String()
    retracted_at = Timestamp(allow_none=True)
    retraction_reason = fields.String(allow_none=True)
    retracted_by = fields.String(allow_none=True)
    supersedes = fields.Function(lambda a: a.supersedes_id)
    superseded_by = fields.Function(lambda a: a.superseded_by.id if a.superseded_by else None)


class AnnouncementCorrectionSchema(BaseSchema):
    """Body of an announcement's correction: the reason and the fields that change.

    An omitted field is copied from the corrected announcement; ``note: null`` clears the note.
    """

    reason = Text(required=True, min_length=1, max_length=5000)
    as_of = Day()
    count = _count_field()
    bound = _bound_field()
    source = fields.Nested(SourceSchema)
    note = Text(max_length=5000, allow_none=True)


def page_schema(item_schema: type[Schema], name: str) -> type[Schema]:
    """A ``{"items": [...], "next_cursor": ...}`` page of the given items."""
    return type(
        name,
        (BaseSchema,),
        {
            "items": fields.List(fields.Nested(item_schema)),
            "next_cursor": fields.String(allow_none=True),
            "__doc__": f"A page of {item_schema.__name__.removesuffix('Schema')} items.",
        },
    )


# Every list and report answers JSON, CSV or XLSX; ``bom`` prefixes a CSV with a byte order
# mark, so that a spreadsheet reads it as UTF-8.
FORMATS = ["json", "csv", "xlsx"]
BOM_HELP = "CSV only: start with a UTF-8 byte order mark (for spreadsheets)"


class PageArgsSchema(BaseSchema):
    """Cursor pagination: ``limit`` 1–500 and an opaque ``cursor``."""

    limit = QueryInteger(load_default=100, validate=validate.Range(min=1, max=500))
    cursor = fields.String(
        load_default=None,
        validate=[
            validate.Length(max=500),
            validate.Regexp(CURSOR_PATTERN, error="is not a cursor this service issued"),
        ],
    )
    format = fields.String(load_default=None, validate=validate.OneOf(FORMATS))
    bom = fields.Boolean(load_default=False, metadata={"description": BOM_HELP})


class ParticipantListArgsSchema(PageArgsSchema):
    """Filters of the participant list."""

    kind = fields.String(validate=validate.OneOf(PARTICIPANT_KINDS))
    region = Text(max_length=64)
    q = Text(max_length=300)


class KnownAtArgsSchema(BaseSchema):
    """``known_at``: what the registry knew at that instant (default now)."""

    known_at = Timestamp(load_default=None)


class StandingArgsSchema(KnownAtArgsSchema):
    """``as_of`` (default today) and ``known_at``."""

    as_of = Day(load_default=None)


class AsOfArgsSchema(StandingArgsSchema):
    """``as_of``, ``known_at`` and the representation of a report (JSON or CSV)."""

    format = fields.String(load_default=None, validate=validate.OneOf(FORMATS))
    bom = fields.Boolean(load_default=False, metadata={"description": BOM_HELP})


class CountsArgsSchema(KnownAtArgsSchema):
    """Range and interval of a counts series."""

    from_ = Day(data_key="from", load_default=None)
    to = Day(load_default=None)
    interval = fields.String(load_default="month", validate=validate.OneOf(INTERVALS))
    format = fields.String(load_default=None, validate=validate.OneOf(FORMATS))
    bom = fields.Boolean(load_default=False, metadata={"description": BOM_HELP})


class InstrumentParticipantsArgsSchema(AsOfArgsSchema):
    """``as_of``, ``known_at`` and an optional group whose members alone are counted."""

    members_of = Slug(load_default=None)


class AnnouncementListArgsSchema(PageArgsSchema, KnownAtArgsSchema):
    """The announcements known at ``known_at``; retracted ones on request."""

    include_retracted = fields.Boolean(load_default=False)


class EventListArgsSchema(PageArgsSchema, KnownAtArgsSchema):
    """Filters of an event list."""

    participant = Code()
    type = fields.String(validate=validate.OneOf(EVENT_TYPES))
    include_retracted = fields.Boolean(load_default=False)
    # Transaction time: recorded at or after ``recorded_since``, before ``recorded_until``.
    recorded_since = Timestamp()
    recorded_until = Timestamp()


ParticipantPageSchema = page_schema(ParticipantSchema, "ParticipantPageSchema")
EventPageSchema = page_schema(EventSchema, "EventPageSchema")
GroupPageSchema = page_schema(GroupSchema, "GroupPageSchema")
InstrumentPageSchema = page_schema(InstrumentSchema, "InstrumentPageSchema")
AnnouncementPageSchema = page_schema(AnnouncementSchema, "AnnouncementPageSchema")
