"""The registry's schema as typed SQLAlchemy models; constraints live in the database."""

from datetime import UTC, date, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from .timeutil import utcnow

PARTICIPANT_KINDS = ("country", "region", "organisation")
GROUP_EVENT_TYPES = ("accession", "withdrawal")
INSTRUMENT_EVENT_TYPES = ("commitment", "report", "withdrawal")
EVENT_TYPES = ("accession", "withdrawal", "commitment", "report")
RELIABILITIES = ("official", "reported", "unverified")
# How an announced total relates to the true count: "at least 60", "about 50", or exactly.
BOUNDS = ("exact", "at_least", "at_most", "about")

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def _one_of(column: str, values: tuple[str, ...]) -> str:
    """SQL for ``column IN (values)``."""
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class UTCDateTime(TypeDecorator):
    """A timestamp stored as naive UTC on every database and returned aware."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        return None if value is None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    """Declarative base with stable constraint names across databases."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), date: Date(), str: String()}


class Participant(Base):
    """A country (ISO 3166-1 alpha-3), a region such as the EU, or an organisation."""

    __tablename__ = "participants"
    __table_args__ = (
        CheckConstraint(_one_of("kind", PARTICIPANT_KINDS), name="kind"),
        CheckConstraint("region IS NULL OR kind = 'country'", name="region_only_for_countries"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(16))
    region: Mapped[str | None] = mapped_column(String(16))
    sub_region: Mapped[str | None] = mapped_column(String(64))
    url: Mapped[str | None] = mapped_column(String(2000))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    aliases: Mapped[list["ParticipantAlias"]] = relationship(
        order_by="ParticipantAlias.id", cascade="all, delete-orphan"
    )


# Names people use: the participant's own, ISO's common and official ones, former ones, added.
ALIAS_KINDS = ("name", "common", "official", "former", "added")


class ParticipantAlias(Base):
    """A name a participant goes by, with its folded search key (lower case, no accents)."""

    __tablename__ = "participant_aliases"
    __table_args__ = (
        CheckConstraint(_one_of("kind", ALIAS_KINDS), name="kind"),
        UniqueConstraint("participant_id", "key", name="uq_participant_aliases_participant_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(16))
    key: Mapped[str] = mapped_column(String(320))


class Group(Base):
    """A membership body and the participant kinds it admits."""

    __tablename__ = "groups"
    __table_args__ = (
        CheckConstraint(
            "admits_country OR admits_region OR admits_organisation", name="admits_some_kind"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(300))
    established_on: Mapped[date]
    admits_country: Mapped[bool] = mapped_column(default=False)
    admits_region: Mapped[bool] = mapped_column(default=False)
    admits_organisation: Mapped[bool] = mapped_column(default=False)
    url: Mapped[str | None] = mapped_column(String(2000))
    description: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def member_kinds(self) -> list[str]:
        """The admitted participant kinds, in canonical order."""
        return [kind for kind in PARTICIPANT_KINDS if getattr(self, f"admits_{kind}")]

    @member_kinds.setter
    def member_kinds(self, kinds: list[str]) -> None:
        for kind in PARTICIPANT_KINDS:
            setattr(self, f"admits_{kind}", kind in kinds)


class Instrument(Base):
    """A text participants commit to, with numbered provisions."""

    __tablename__ = "instruments"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(300))
    short_name: Mapped[str | None] = mapped_column(String(300))
    adopted_on: Mapped[date]
    url: Mapped[str | None] = mapped_column(String(2000))
    description: Mapped[str | None] = mapped_column(Text)
    group_id: Mapped[int | None] = mapped_column(ForeignKey("groups.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    group: Mapped[Group | None] = relationship(lazy="joined")
    provisions: Mapped[list["Provision"]] = relationship(
        order_by="Provision.number", lazy="selectin", cascade="all, delete-orphan"
    )


class Provision(Base):
    """One numbered provision (action, principle, section) of an instrument."""

    __tablename__ = "provisions"
    __table_args__ = (
        UniqueConstraint("instrument_id", "number", name="uq_provisions_instrument_number"),
        CheckConstraint("number >= 1", name="number_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    instrument_id: Mapped[int] = mapped_column(ForeignKey("instruments.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(300))


# The members report's index (``ix_events_group_timeline``): the timeline's key, then what the
# report reads of each event.
GROUP_TIMELINE_COLUMNS = (
    "group_id",
    "participant_id",
    "effective_on",
    "id",
    "type",
    "earliest_on",
    "recorded_at",
    "retracted_at",
    "place",
)


class Event(Base):
    """The source of truth: one accession, withdrawal, commitment or report. Never updated."""

    __tablename__ = "events"
    __table_args__ = (
        CheckConstraint(_one_of("type", EVENT_TYPES), name="type"),
        CheckConstraint(
            "(group_id IS NULL) <> (instrument_id IS NULL)", name="one_group_or_instrument"
        ),
        CheckConstraint(
            f"group_id IS NULL OR {_one_of('type', GROUP_EVENT_TYPES)}", name="group_event_type"
        ),
        CheckConstraint(
            f"instrument_id IS NULL OR {_one_of('type', INSTRUMENT_EVENT_TYPES)}",
            name="instrument_event_type",
        ),
        CheckConstraint(
            "earliest_on IS NULL OR earliest_on <= effective_on", name="earliest_not_after"
        ),
        CheckConstraint(
            "(retracted_at IS NULL) = (retraction_reason IS NULL)", name="retraction_has_reason"
        ),
        CheckConstraint(
            "provisions IS NULL OR type = 'commitment'", name="provisions_only_for_commitments"
        ),
        # Partial indexes: an event is of a group or of an instrument, and rarely supersedes
        # another, so each row gets no entry in the indexes whose key would be NULL.
        # A participant's timeline in a group. It also carries every other column the members
        # report reads, so that report reads the group's entries alone, never the table's
        # pages, where the group's events lie among every other group's (PostgreSQL needs the
        # visibility map set, which autovacuum keeps). Past the unique id the columns only
        # ride along, as INCLUDE columns would, and SQLite has no INCLUDE.
        Index(
            "ix_events_group_timeline",
            *GROUP_TIMELINE_COLUMNS,
            postgresql_where=text("group_id IS NOT NULL"),
            sqlite_where=text("group_id IS NOT NULL"),
        ),
        Index(
            "ix_events_instrument_timeline",
            "instrument_id",
            "participant_id",
            "effective_on",
            "id",
            postgresql_where=text("instrument_id IS NOT NULL"),
            sqlite_where=text("instrument_id IS NOT NULL"),
        ),
        Index("ix_events_participant", "participant_id", "effective_on", "id"),
        # Reports read a group's or instrument's events in timeline order.
        Index(
            "ix_events_group_effective_on",
            "group_id",
            "effective_on",
            "id",
            postgresql_where=text("group_id IS NOT NULL"),
            sqlite_where=text("group_id IS NOT NULL"),
        ),
        Index(
            "ix_events_instrument_effective_on",
            "instrument_id",
            "effective_on",
            "id",
            postgresql_where=text("instrument_id IS NOT NULL"),
            sqlite_where=text("instrument_id IS NOT NULL"),
        ),
        # The members report's pending accessions (earliest_on <= as_of < effective_on):
        # only the few events with an uncertain date, so that an early as_of does not read
        # every later event of the group.
        Index(
            "ix_events_group_earliest_on",
            "group_id",
            "earliest_on",
            postgresql_where=text("group_id IS NOT NULL AND earliest_on IS NOT NULL"),
            sqlite_where=text("group_id IS NOT NULL AND earliest_on IS NOT NULL"),
        ),
        # A group's change stamp (reports/stamps.py) from the index alone: counts and the
        # latest instants, without reading the group's rows.
        Index(
            "ix_events_group_recorded",
            "group_id",
            "recorded_at",
            "retracted_at",
            postgresql_where=text("group_id IS NOT NULL"),
            sqlite_where=text("group_id IS NOT NULL"),
        ),
        # An event is superseded at most once.
        Index(
            "uq_events_supersedes_id",
            "supersedes_id",
            unique=True,
            postgresql_where=text("supersedes_id IS NOT NULL"),
            sqlite_where=text("supersedes_id IS NOT NULL"),
        ),
        # The seeder finds the events of its rows by origin; almost no other event has one.
        Index(
            "ix_events_origin",
            "origin",
            postgresql_where=text("origin IS NOT NULL"),
            sqlite_where=text("origin IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    type: Mapped[str] = mapped_column(String(16))
    group_id: Mapped[int | None] = mapped_column(ForeignKey("groups.id"))
    instrument_id: Mapped[int | None] = mapped_column(ForeignKey("instruments.id"))
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id"))
    effective_on: Mapped[date]
    earliest_on: Mapped[date | None]
    provisions: Mapped[list[int] | None] = mapped_column(JSON(none_as_null=True))
    note: Mapped[str | None] = mapped_column(Text)
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    recorded_by: Mapped[str] = mapped_column(String(100))
    retracted_at: Mapped[datetime | None]
    retraction_reason: Mapped[str | None] = mapped_column(Text)
    retracted_by: Mapped[str | None] = mapped_column(String(100))
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("events.id"))
    # The place among same-day events when it is not the id: a correction that keeps the date
    # stands where the event it replaces stood (see ``same_day_place``).
    place: Mapped[int | None]
    # The keyed dataset row this fact came from (``seeds/events.csv#fg-AUS``), kept by corrections.
    origin: Mapped[str | None] = mapped_column(String(300))

    participant: Mapped[Participant] = relationship(lazy="joined", innerjoin=True)
    group: Mapped[Group | None] = relationship(lazy="joined")
    instrument: Mapped[Instrument | None] = relationship(lazy="joined")
    sources: Mapped[list["Source"]] = relationship(
        order_by="Source.position", lazy="selectin", cascade="all, delete-orphan"
    )
    supersedes: Mapped["Event | None"] = relationship(
        remote_side=[id], back_populates="superseded_by", lazy="select"
    )
    superseded_by: Mapped["Event | None"] = relationship(
        back_populates="supersedes", lazy="selectin"
    )

    @property
    def day_place(self) -> int:
        """Its place among the events of its day, as ``same_day_place`` reads it in SQL."""
        return self.place or self.id


class Announcement(Base):
    """A total published by an authority, kept beside the computed count."""

    __tablename__ = "announcements"
    __table_args__ = (
        CheckConstraint("count >= 0", name="count_not_negative"),
        CheckConstraint(_one_of("bound", BOUNDS), name="bound"),
        CheckConstraint(
            "(retracted_at IS NULL) = (retraction_reason IS NULL)", name="retraction_has_reason"
        ),
        Index("ix_announcements_group_as_of", "group_id", "as_of"),
        Index(
            "ix_announcements_origin",
            "origin",
            postgresql_where=text("origin IS NOT NULL"),
            sqlite_where=text("origin IS NOT NULL"),
        ),
        # An announcement is superseded at most once.
        Index(
            "uq_announcements_supersedes_id",
            "supersedes_id",
            unique=True,
            postgresql_where=text("supersedes_id IS NOT NULL"),
            sqlite_where=text("supersedes_id IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id"))
    as_of: Mapped[date]
    count: Mapped[int]
    bound: Mapped[str] = mapped_column(String(16), default="exact", server_default="exact")
    note: Mapped[str | None] = mapped_column(Text)
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    recorded_by: Mapped[str] = mapped_column(String(100))
    origin: Mapped[str | None] = mapped_column(String(300))  # as Event.origin
    retracted_at: Mapped[datetime | None]
    retraction_reason: Mapped[str | None] = mapped_column(Text)
    retracted_by: Mapped[str | None] = mapped_column(String(100))
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("announcements.id"))

    group: Mapped[Group] = relationship(lazy="joined")
    sources: Mapped[list["Source"]] = relationship(
        order_by="Source.position", lazy="selectin", cascade="all, delete-orphan"
    )
    supersedes: Mapped["Announcement | None"] = relationship(
        remote_side=[id], back_populates="superseded_by", lazy="select"
    )
    superseded_by: Mapped["Announcement | None"] = relationship(
        back_populates="supersedes", lazy="selectin"
    )

    @property
    def source(self) -> "Source | None":
        """The announcement's source (announcements carry exactly one)."""
        return self.sources[0] if self.sources else None


class Source(Base):
    """Where a fact comes from, with how far it can be trusted."""

    __tablename__ = "sources"
    __table_args__ = (
        CheckConstraint(_one_of("reliability", RELIABILITIES), name="reliability"),
        CheckConstraint(
            "(event_id IS NULL) <> (announcement_id IS NULL)", name="one_event_or_announcement"
        ),
        Index("ix_sources_event_id", "event_id"),
        # Nearly every source is an event's: only announcements' sources are indexed here.
        Index(
            "ix_sources_announcement_id",
            "announcement_id",
            postgresql_where=text("announcement_id IS NOT NULL"),
            sqlite_where=text("announcement_id IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int | None] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    announcement_id: Mapped[int | None] = mapped_column(
        ForeignKey("announcements.id", ondelete="CASCADE")
    )
    position: Mapped[int] = mapped_column(default=0)
    url: Mapped[str] = mapped_column(String(2000))
    title: Mapped[str | None] = mapped_column(String(300))
    publisher: Mapped[str | None] = mapped_column(String(300))
    published_on: Mapped[date | None]
    reliability: Mapped[str] = mapped_column(String(16))


class ApiToken(Base):
    """A bearer token for writes; only its SHA-256 hash is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]
    # None: every right (the tokens made before scopes existed); else a list of scopes.
    scopes: Mapped[list[str] | None] = mapped_column(JSON(none_as_null=True))
    expires_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
    # After a rotation the old secret still works until ``previous_ends_at``.
    previous_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    previous_ends_at: Mapped[datetime | None]


class IdempotencyKey(Base):
    """A POST seen under an ``Idempotency-Key``, with the response to replay."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (
        UniqueConstraint("token_id", "key", name="uq_idempotency_keys_token_key"),
        Index("ix_idempotency_keys_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    token_id: Mapped[int] = mapped_column(ForeignKey("api_tokens.id"))
    key: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[int | None]
    body: Mapped[str | None] = mapped_column(Text)
    headers: Mapped[dict | None] = mapped_column(JSON(none_as_null=True))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuditEntry(Base):
    """One write, who asked for it and how it ended; rows are only ever added."""

    __tablename__ = "audit_entries"
    __table_args__ = (
        CheckConstraint("outcome IN ('success', 'refused')", name="outcome"),
        Index("ix_audit_entries_at", "at", "id"),
        Index("ix_audit_entries_by", "by", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    # The token's name, or the CLI's ``--by``; None when a request named no valid token.
    by: Mapped[str | None] = mapped_column(String(100))
    request_id: Mapped[str | None] = mapped_column(String(128))
    # "POST /api/v1/groups/x/accessions" or "import events.csv"
    action: Mapped[str] = mapped_column(String(2000))
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    outcome: Mapped[str] = mapped_column(String(16))
    status: Mapped[int | None]
    problem: Mapped[str | None] = mapped_column(String(100))
    # {"created": {"events": [[first_id, last_id], ...]}, "retracted": {...}}
    rows: Mapped[dict | None] = mapped_column(JSON(none_as_null=True))


def same_day_place():
    """An event's place among the events of its day: its ``place`` if it keeps one, else its id."""
    return func.coalesce(Event.place, Event.id)


def timeline_order() -> tuple:
    """Events as their timelines read them: by date, then their places in the day, then id."""
    return (Event.effective_on, same_day_place(), Event.id)


# --- following the registry: the change log and its webhook outbox -----------------------------

CHANGE_TYPES = (
    "event.recorded",
    "event.retracted",
    "event.corrected",
    "announcement.recorded",
    "announcement.corrected",
    "announcement.retracted",
    "participant.registered",
    "participant.renamed",
    "group.registered",
    "group.renamed",
    "instrument.registered",
    "instrument.renamed",
)
DELIVERY_STATUSES = ("pending", "delivered", "failed")


class Change(Base):
    """One thing the registry learned, in the order its transaction committed. Never updated.

    ``txid`` is the writing transaction's id on PostgreSQL (0 on SQLite, whose writers are
    serialised): readers page by ``(txid, id)`` and never past a transaction still running.
    """

    __tablename__ = "changes"
    __table_args__ = (
        CheckConstraint(_one_of("type", CHANGE_TYPES), name="type"),
        Index("ix_changes_position", "txid", "id"),
        Index("ix_changes_event_id", "event_id"),
        Index("ix_changes_group_id", "group_id", "txid", "id"),
        Index("ix_changes_instrument_id", "instrument_id", "txid", "id"),
        Index("ix_changes_participant_id", "participant_id", "txid", "id"),
        # The reports' change stamp counts renames (reports.stamps) from this index alone.
        Index("ix_changes_type_recorded_at", "type", "recorded_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    txid: Mapped[int] = mapped_column(BigInteger, default=0)
    type: Mapped[str] = mapped_column(String(32))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    recorded_by: Mapped[str] = mapped_column(String(100))
    event_id: Mapped[int | None] = mapped_column(ForeignKey("events.id"))
    announcement_id: Mapped[int | None] = mapped_column(ForeignKey("announcements.id"))
    group_id: Mapped[int | None] = mapped_column(ForeignKey("groups.id"))
    instrument_id: Mapped[int | None] = mapped_column(ForeignKey("instruments.id"))
    participant_id: Mapped[int | None] = mapped_column(ForeignKey("participants.id"))

    event: Mapped[Event | None] = relationship(lazy="selectin")
    announcement: Mapped[Announcement | None] = relationship(lazy="selectin")
    group: Mapped[Group | None] = relationship(lazy="selectin")
    instrument: Mapped[Instrument | None] = relationship(lazy="selectin")
    participant: Mapped[Participant | None] = relationship(lazy="selectin")


class Webhook(Base):
    """A subscriber's endpoint, the changes it wants and the secret deliveries are signed with."""

    __tablename__ = "webhooks"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(2000))
    secret: Mapped[str] = mapped_column(String(100))
    groups: Mapped[list[str] | None] = mapped_column(JSON(none_as_null=True))
    instruments: Mapped[list[str] | None] = mapped_column(JSON(none_as_null=True))
    participants: Mapped[list[str] | None] = mapped_column(JSON(none_as_null=True))
    types: Mapped[list[str] | None] = mapped_column(JSON(none_as_null=True))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(100))
    failing_since: Mapped[datetime | None]
    disabled_at: Mapped[datetime | None]
    disabled_reason: Mapped[str | None] = mapped_column(Text)


class Delivery(Base):
    """The outbox: one change to send to one webhook, written with the change."""

    __tablename__ = "deliveries"
    __table_args__ = (
        CheckConstraint(_one_of("status", DELIVERY_STATUSES), name="status"),
        Index("ix_deliveries_due", "status", "next_attempt_at"),
        Index("ix_deliveries_webhook_id", "webhook_id", "id"),
        # The deliveries in flight (leased, not yet settled): a claim counts them per webhook.
        Index(
            "ix_deliveries_leased",
            "webhook_id",
            postgresql_where=text("lease_until IS NOT NULL"),
            sqlite_where=text("lease_until IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    webhook_id: Mapped[int] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"))
    change_id: Mapped[int] = mapped_column(ForeignKey("changes.id"))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    lease_until: Mapped[datetime | None]
    leased_by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]

    change: Mapped[Change] = relationship(lazy="joined", innerjoin=True)
    webhook: Mapped[Webhook] = relationship(lazy="joined", innerjoin=True)


class DeliveryAttempt(Base):
    """One try at a delivery: the answer's status or the error, and how long it took."""

    __tablename__ = "delivery_attempts"
    __table_args__ = (Index("ix_delivery_attempts_delivery_id", "delivery_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("deliveries.id", ondelete="CASCADE"))
    attempted_at: Mapped[datetime] = mapped_column(default=utcnow)
    status_code: Mapped[int | None]
    latency_ms: Mapped[int]
    error: Mapped[str | None] = mapped_column(Text)
