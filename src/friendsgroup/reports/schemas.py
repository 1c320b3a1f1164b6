"""Schemas that document the reports (the reports build their JSON themselves, for speed)."""

from marshmallow import fields, validate

from ..schemas import BOUND_DESCRIPTION, AsOfArgsSchema, BaseSchema, SourceSchema

DIFFERENCE_DESCRIPTION = (
    "The computed count minus the announced count, whatever the bound. Read it against "
    "`bound`: for `exact`, 0 means agreement; for `at_least`, 0 or more is consistent and a "
    "negative difference means members the registry lacks; for `at_most`, 0 or less is "
    "consistent; for `about`, a small difference either way is."
)


class AnnouncedSchema(BaseSchema):
    """The latest announced total on or before the date, and the gap to the computed count."""

    as_of = fields.Date()
    count = fields.Integer()
    bound = fields.String(metadata={"description": BOUND_DESCRIPTION})
    source = fields.Nested(SourceSchema, allow_none=True)
    note = fields.String(allow_none=True)
    difference = fields.Integer(metadata={"description": DIFFERENCE_DESCRIPTION})


class MemberSchema(BaseSchema):
    """One member on the report's date."""

    code = fields.String()
    name = fields.String()
    kind = fields.String()
    region = fields.String(allow_none=True)
    member_since = fields.Date()
    date_uncertain = fields.Boolean()


class PossibleMemberSchema(BaseSchema):
    """A participant inside an uncertain join window on the report's date: possibly a member."""

    code = fields.String()
    name = fields.String()
    kind = fields.String()
    earliest_on = fields.Date(metadata={"description": "The window's start"})
    effective_on = fields.Date(metadata={"description": "The date by which membership is attested"})
    reliability = fields.String(
        allow_none=True, metadata={"description": "The strongest reliability among its sources"}
    )


class MembersArgsSchema(AsOfArgsSchema):
    """``as_of``, ``known_at``, ``format`` and which rows a CSV carries."""

    rows = fields.String(
        load_default="members",
        validate=validate.OneOf(["members", "possible_members"]),
        metadata={
            "description": "The rows of `format=csv`: the members (default) or the possible members"
        },
    )


class MembersReportSchema(BaseSchema):
    """Members of a group on ``as_of`` as known at ``known_at``."""

    group = fields.String()
    as_of = fields.Date()
    known_at = fields.String()
    count = fields.Integer()
    possibly_members = fields.Integer()
    by_kind = fields.Dict(keys=fields.String(), values=fields.Integer())
    by_region = fields.Dict(keys=fields.String(), values=fields.Integer())
    announced = fields.Nested(AnnouncedSchema, allow_none=True)
    members = fields.List(fields.Nested(MemberSchema))
    possible_members = fields.List(
        fields.Nested(PossibleMemberSchema),
        metadata={"description": "Who `possibly_members` counts, by name"},
    )


class CountPointSchema(BaseSchema):
    """One point of a group's series."""

    date = fields.Date()
    count = fields.Integer()
    joined = fields.Integer()
    left = fields.Integer()
    possibly_members = fields.Integer()
    announced = fields.Integer(allow_none=True)
    announced_bound = fields.String(
        allow_none=True, metadata={"description": "The bound of `announced` (see AnnouncedSchema)"}
    )


class CountsReportSchema(BaseSchema):
    """A group's counts over time."""

    group = fields.String()
    interval = fields.String()
    from_ = fields.Date(data_key="from")
    to = fields.Date()
    known_at = fields.String()
    points = fields.List(fields.Nested(CountPointSchema))


class CommittedSchema(BaseSchema):
    """One committed participant."""

    code = fields.String()
    name = fields.String()
    kind = fields.String()
    committed_since = fields.Date()
    date_uncertain = fields.Boolean()
    provisions = fields.List(fields.Integer(), allow_none=True)
    full = fields.Boolean()
    last_report_on = fields.Date(allow_none=True)


class InstrumentParticipantsSchema(BaseSchema):
    """Who is committed to an instrument on ``as_of``."""

    instrument = fields.String()
    as_of = fields.Date()
    known_at = fields.String()
    members_of = fields.String(allow_none=True)
    count = fields.Integer()
    full = fields.Integer()
    partial = fields.Integer()
    by_provision = fields.Dict(keys=fields.String(), values=fields.Integer())
    reported = fields.Integer()
    participants = fields.List(fields.Nested(CommittedSchema))


class InstrumentPointSchema(BaseSchema):
    """One point of an instrument's series."""

    date = fields.Date()
    count = fields.Integer()
    joined = fields.Integer()
    left = fields.Integer()
    reports = fields.Integer()
    reported = fields.Integer()


class InstrumentCountsSchema(BaseSchema):
    """An instrument's commitments over time."""

    instrument = fields.String()
    interval = fields.String()
    from_ = fields.Date(data_key="from")
    to = fields.Date()
    known_at = fields.String()
    points = fields.List(fields.Nested(InstrumentPointSchema))
