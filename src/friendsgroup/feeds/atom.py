"""An Atom feed (RFC 4287) of changes, built with feedgen: one entry per change."""

from datetime import datetime

from feedgen.feed import FeedGenerator
from lxml import etree

from ..models import Change
from ..reports.changes import links_of, summary
from ..timeutil import utcnow

ATOM_MIMETYPE = "application/atom+xml"
# The date in every tag: URI minted here (RFC 4151); ids never change once issued.
TAG_DATE = "2024"


def tag_uri(authority: str, specific: str) -> str:
    """A ``tag:`` URI of this registry."""
    return f"tag:{authority},{TAG_DATE}:{specific}"


def atom_feed(
    changes: list[Change], *, title: str, scope: str, base_url: str, self_path: str, authority: str
) -> bytes:
    """The feed of ``changes`` (newest first); ``updated`` is its newest change's time."""
    feed = FeedGenerator()
    feed.id(tag_uri(authority, f"feed/{scope}"))
    feed.title(title)
    feed.author({"name": "friendsgroup"})
    feed.link(href=f"{base_url}{self_path}", rel="self", type=ATOM_MIMETYPE)
    feed.link(href=f"{base_url}/{scope if scope != 'registry' else ''}", rel="alternate")
    feed.updated(newest(changes) or utcnow())
    for change in reversed(changes):  # feedgen puts the last added first
        links = links_of(change)
        entry = feed.add_entry()
        entry.id(tag_uri(authority, f"change/{change.id}"))
        entry.title(summary(change))
        entry.summary(summary(change))
        entry.updated(change.recorded_at)
        entry.published(change.recorded_at)
        entry.author({"name": change.recorded_by})
        entry.category(term=change.type)
        entry.link(href=f"{base_url}{links['page']}", rel="alternate", type="text/html")
        entry.link(href=f"{base_url}{links['json']}", rel="related", type="application/json")
    return _with_entry_link_kinds(feed.atom_str(pretty=True))


ATOM = "{http://www.w3.org/2005/Atom}"
ENTRY_LINKS = (("alternate", "text/html"), ("related", "application/json"))


def _with_entry_link_kinds(xml: bytes) -> bytes:
    """Put back the ``rel`` and ``type`` of entry links, which feedgen 1.0 drops."""
    root = etree.fromstring(xml)
    for entry in root.iter(f"{ATOM}entry"):
        for link, (rel, kind) in zip(entry.iter(f"{ATOM}link"), ENTRY_LINKS, strict=True):
            link.set("rel", rel)
            link.set("type", kind)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def newest(changes: list[Change]) -> datetime | None:
    """The time of the newest change, if any."""
    return max((change.recorded_at for change in changes), default=None)
