"""The pages over HTTP: the API's figures, the chart, languages, CSP, ETags, downloads."""

import csv
import io
import re
import xml.etree.ElementTree as ET
from datetime import date
from html.parser import HTMLParser

import openpyxl
import pytest

from friendsgroup.timeutil import today
from friendsgroup.web.views import chart_interval
from tests.support import accede, create_group, withdraw
from tests.web_world import AS_OF, make_web_world

API = "/api/v1"
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def world(client, auth):
    return make_web_world(client, auth)


class Page(HTMLParser):
    """What a test needs of a page: its tags with attributes, and its text."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)

    def all(self, tag: str, **attrs) -> list[dict]:
        return [
            a for t, a in self.tags if t == tag and all(a.get(k) == v for k, v in attrs.items())
        ]


def pages(world) -> list[str]:
    return [
        "/",
        "/groups/friends",
        f"/groups/friends?as_of={AS_OF}&sort=region&region=Europe",
        "/participants/BRA",
        "/participants?q=japan",
        "/instruments/code",
        f"/events/{world.correction_id}",
        f"{API}/docs",
    ]


def test_every_page_is_strict_html(client, world):
    for url in pages(world):
        for lang in ("en", "ja"):
            response = client.get(url + ("&" if "?" in url else "?") + f"lang={lang}")
            assert response.status_code == 200, url
            assert response.headers["Content-Type"] == "text/html; charset=utf-8", url
            csp = response.headers["Content-Security-Policy"]
            assert "script-src 'self'" in csp and "style-src 'self'" in csp, url
            assert "unsafe-inline" not in csp
            html = response.get_data(as_text=True)
            page = Page(html)
            assert all(a.get("src") for a in page.all("script")), f"inline script in {url}"
            assert not page.all("style") and " style=" not in html, f"inline style in {url}"
            assert page.all("html", lang=lang), url
            assert len(response.data) < 100_000, url
            assert len(page.all("main")) == 1 and len(page.all("h1")) == 1, url
            # Every input has a label.
            labelled = {a["for"] for a in page.all("label")}
            for field in page.all("input") + page.all("select"):
                if field.get("type") != "hidden":
                    assert field.get("id") in labelled, (url, field)


def figures_of(html: str):
    """The headline figure named ``name`` of a page, or None when the page has none."""

    def figure(name: str) -> int | None:
        match = re.search(rf'data-figure="{name}">(\d+)<', html)
        return int(match.group(1)) if match else None

    return figure


def test_the_group_page_shows_the_api_figures(client, world):
    for query in [
        f"as_of={AS_OF}",
        "as_of=2024-06-01",
        "",
        f"as_of={AS_OF}&known_at=2000-01-01T00:00:00Z",
    ]:
        report = client.get(f"{API}/groups/friends/members?{query}").get_json()
        page = Page(client.get(f"/groups/friends?{query}").get_data(as_text=True))
        html_text = client.get(f"/groups/friends?{query}").get_data(as_text=True)

        figure = figures_of(html_text)
        assert figure("count") == report["count"], query
        assert figure("possibly_members") == report["possibly_members"], query
        assert figure("announced") == (report["announced"] or {}).get("count"), query
        table = html_text.split('class="members"')[1].split("</table>")[0]
        codes = re.findall(r'<tr data-code="([A-Z]+)"', table)
        assert sorted(codes) == sorted(m["code"] for m in report["members"]), query
        since = {a["datetime"] for a in page.all("time")}
        assert {m["member_since"] for m in report["members"]} <= since


def test_the_group_page_lists_the_possible_members_and_sorts_and_filters(client, world):
    html = client.get(f"/groups/friends?as_of={AS_OF}").get_data(as_text=True)
    assert 'class="possible"' in html and 'data-code="KEN"' in html
    europe = client.get(f"/groups/friends?as_of={AS_OF}&region=europe").get_data(as_text=True)
    members = re.findall(
        r'<tr data-code="([A-Z]+)"', europe.split('class="members"')[1].split("</table>")[0]
    )
    assert members == ["FRA"]
    by_since = client.get(f"/groups/friends?as_of={AS_OF}&sort=since").get_data(as_text=True)
    table = by_since.split('class="members"')[1].split("</table>")[0]
    dates = re.findall(r'<time datetime="(\d{4}-\d\d-\d\d)">', table)
    assert dates == sorted(dates) and dates


def chart_points(svg: str) -> tuple[list[float], list[int]]:
    """The counted line's vertices, read back through the y axis's labelled ticks."""
    root = ET.fromstring(svg)
    ticks = [
        (float(t.get("y")) - 4, int(t.get("data-value")))
        for t in root.iter(f"{SVG}text")
        if t.get("data-value") is not None
    ]
    (y0, v0), (y1, v1) = ticks[0], ticks[-1]
    path = next(p for p in root.iter(f"{SVG}path") if p.get("class") == "counted").get("d")
    first = re.match(r"M([\d.]+) ([\d.]+)", path)
    xs, ys = [float(first.group(1))], [float(first.group(2))]
    for x, y in re.findall(r"H([\d.]+)V([\d.]+)", path):
        xs.append(float(x))
        ys.append(float(y))
    counts = [round(v0 + (y - y0) * (v1 - v0) / (y1 - y0)) for y in ys]
    return xs, counts


def test_chart_svg_is_valid_titled_and_matches_the_series(client, world):
    response = client.get(f"/groups/friends/chart.svg?as_of={AS_OF}")
    assert response.status_code == 200
    assert response.mimetype == "image/svg+xml"
    svg = response.get_data(as_text=True)
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    assert root.find(f"{SVG}title").text == "Members of Friends Group over time"
    assert root.find(f"{SVG}desc").text
    end = max(date.fromisoformat(AS_OF), today())
    interval = chart_interval(date(2024, 5, 2), end)
    series = client.get(
        f"{API}/groups/friends/counts",
        query_string={"from": "2024-05-02", "to": end.isoformat(), "interval": interval},
    ).get_json()
    xs, counts = chart_points(svg)
    assert counts == [p["count"] for p in series["points"]]
    assert xs == sorted(xs) and len(set(xs)) == len(xs)
    markers = [g for g in root.iter(f"{SVG}g") if g.get("data-count")]
    assert {
        (g.get("data-date"), g.get("data-count"), g.get("data-reliability")) for g in markers
    } == {
        ("2024-05-02", "4", "official"),
        ("2025-02-28", "7", "reported"),
    }
    # The page draws the same chart, inline.
    page = client.get(f"/groups/friends?as_of={AS_OF}").get_data(as_text=True)
    inline = re.search(r"<svg [^>]*class=\"chart\".*?</svg>", page, re.S).group(0)
    assert chart_points(inline)[1] == counts


def test_japanese_pages_name_countries_in_japanese(client, world):
    ja = client.get("/groups/friends?lang=ja").get_data(as_text=True)
    assert (
        '<html lang="ja">' in ja
        and ">日本</a>" in ja
        and ">フランス</a>" in ja
        and "参加国・地域" in ja
    )
    by_header = client.get("/groups/friends", headers={"Accept-Language": "ja,en;q=0.5"})
    assert '<html lang="ja">' in by_header.get_data(as_text=True)
    en = client.get("/groups/friends", headers={"Accept-Language": "fr"}).get_data(as_text=True)
    assert '<html lang="en">' in en and ">Japan</a>" in en and ">日本</a>" not in en
    found = client.get("/participants", query_string={"q": "日本"}).get_data(as_text=True)
    assert 'href="/participants/JPN"' in found


def test_pages_answer_304_to_their_etag(client, world):
    first = client.get("/groups/friends?as_of=2025-03-01")
    tag = first.headers["ETag"]
    assert first.headers["Vary"] == "Accept-Language"
    again = client.get("/groups/friends?as_of=2025-03-01", headers={"If-None-Match": tag})
    assert again.status_code == 304 and again.data == b""
    other = client.get("/groups/friends?as_of=2025-03-01&lang=ja", headers={"If-None-Match": tag})
    assert other.status_code == 200


@pytest.mark.parametrize(
    ("url", "status", "field"),
    [
        ("/groups/friends?as_of=2025-13-01", 422, "as_of"),
        ("/groups/friends?known_at=yesterday", 422, "known_at"),
        ("/groups/friends?sort=size", 422, "sort"),
        ("/groups/nobody", 404, None),
        ("/participants/ZZZZ", 404, None),
        ("/events/999999", 404, None),
        ("/events/99999999999", 404, None),
    ],
)
def test_bad_page_parameters_answer_a_page_naming_them(client, world, url, status, field):
    response = client.get(url)
    assert response.status_code == status
    assert response.mimetype == "text/html"
    if field:
        assert f"<code>{field}</code>" in response.get_data(as_text=True)


def test_assets_are_hashed_and_cached_for_a_year(client, world):
    html = client.get(f"{API}/docs").get_data(as_text=True)
    links = re.findall(r'(?:href|src)="(/assets/[^"]+)"', html)
    assert len(links) == 4
    for link in links:
        assert re.search(r"\.[0-9a-f]{12}\.", link)
        response = client.get(link)
        assert response.status_code == 200
        assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert client.get("/assets/site.css").status_code == 404


def rows_of(response) -> list[dict]:
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))


def test_members_csv_carries_the_evidence(client, world):
    response = client.get(f"{API}/groups/friends/members?as_of={AS_OF}&format=csv&bom=1")
    assert response.data.startswith("\ufeff".encode())
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="groups-friends-members-{AS_OF}.csv"'
    )
    rows = {r["code"]: r for r in rows_of(response)}
    report = client.get(f"{API}/groups/friends/members?as_of={AS_OF}").get_json()
    assert list(rows) == [m["code"] for m in report["members"]]
    assert "source" not in report["members"][0] and "earliest_on" not in report["members"][0]
    # FRA's strongest source is the official one, though the reported one is listed first.
    assert rows["FRA"]["source_url"] == "https://example.org/official"
    assert rows["FRA"]["source_reliability"] == "official"
    assert rows["TUR"]["source_title"] == "News report"
    assert rows["TUR"]["source_publisher"] == "Daily"
    assert rows["BRA"]["member_since"] == "2024-07-15"
    assert rows["JPN"]["earliest_on"] == ""
    plain = client.get(f"{API}/groups/friends/members?as_of={AS_OF}&format=csv")
    assert not plain.data.startswith("\ufeff".encode())


def test_members_and_events_as_xlsx(client, world, auth):
    client.post(
        f"{API}/participants",
        json={"code": "EVIL", "name": "=HYPERLINK(1)", "kind": "region"},
        headers=auth,
    )
    assert (
        client.post(
            f"{API}/groups/friends/accessions",
            json={"participant": "EVIL", "effective_on": "2024-06-01"},
            headers=auth,
        ).status_code
        == 201
    )
    response = client.get(f"{API}/groups/friends/members?as_of={AS_OF}&format=xlsx")
    assert response.mimetype == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert response.headers["Content-Disposition"].endswith(f'members-{AS_OF}.xlsx"')
    sheet = openpyxl.load_workbook(io.BytesIO(response.data)).active
    values = list(sheet.values)
    csv_rows = list(
        csv.reader(
            io.StringIO(
                client.get(f"{API}/groups/friends/members?as_of={AS_OF}&format=csv").get_data(
                    as_text=True
                )
            )
        )
    )
    assert list(values[0]) == csv_rows[0]
    names = [row[1] for row in values[1:]]
    assert "=HYPERLINK(1)" in names  # text, not a formula
    assert sheet.cell(row=names.index("=HYPERLINK(1)") + 2, column=2).data_type == "s"
    by_accept = client.get(
        f"{API}/groups/friends/events",
        headers={"Accept": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
    )
    assert by_accept.status_code == 200
    events = list(openpyxl.load_workbook(io.BytesIO(by_accept.data)).active.values)
    assert "source_1_url" in events[0]


def test_events_csv_numbers_the_sources(client, world):
    response = client.get(f"{API}/groups/friends/events?format=csv&participant=FRA")
    rows = rows_of(response)
    header = next(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert "sources" not in header
    assert header[-10:] == [
        f"source_{n}_{f}"
        for n in (1, 2)
        for f in ("url", "title", "publisher", "published_on", "reliability")
    ]
    assert rows[0]["participant"] == "FRA"
    assert rows[0]["source_1_reliability"] == "reported"
    assert rows[0]["source_1_publisher"] == "Daily"
    assert rows[0]["source_2_url"] == "https://example.org/official"
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="groups-friends-events.csv"'
    )


def test_announcements_csv_keeps_the_reliability(client, world):
    rows = rows_of(client.get(f"{API}/groups/friends/announcements?format=csv"))
    assert [(r["as_of"], r["count"], r["source_reliability"]) for r in rows] == [
        ("2024-05-02", "4", "official"),
        ("2025-02-28", "7", "reported"),
    ]


def test_the_participant_page_shows_corrections_and_retractions(client, world):
    html = client.get("/participants/BRA").get_data(as_text=True)
    assert "the official date" in html
    assert f'href="/events/{world.corrected_id}"' in html
    canada = client.get("/participants/CAN").get_data(as_text=True)
    assert "no source" in canada and "retracted" in canada
    # Before the retraction was recorded, the event was not yet retracted.
    before = client.get("/participants/CAN?known_at=2000-01-01T00:00:00Z").get_data(as_text=True)
    assert "No events recorded." in before
    event = client.get(f"/events/{world.correction_id}").get_data(as_text=True)
    assert "Chain of corrections" in event and f"#{world.corrected_id}" in event


def test_the_instrument_page_shows_the_api_figures(client, world):
    report = client.get(f"{API}/instruments/code/participants").get_json()
    html = client.get("/instruments/code").get_data(as_text=True)
    assert report["partial"] == 1
    assert [m["code"] for m in report["participants"]] == re.findall(
        r'<tr data-code="([A-Z]+)"', html
    )
    assert "partial: 1, 2" in html


def test_the_catalogue_is_complete_and_compiled():
    from babel.messages.mofile import read_mo

    from friendsgroup.web.catalogue import extract, po_path, read

    catalog = read("ja")
    extracted = {m.id if isinstance(m.id, str) else m.id[0] for m in extract() if m.id}
    translated = {
        (m.id if isinstance(m.id, str) else m.id[0]): m.string
        for m in catalog
        if m.id and (m.string if isinstance(m.string, str) else m.string[0])
    }
    assert extracted <= set(translated), extracted - set(translated)
    with po_path("ja").with_suffix(".mo").open("rb") as handle:
        compiled = read_mo(handle)

    def messages(source) -> dict:
        def key(value):
            return value if isinstance(value, str) else tuple(value)

        return {key(m.id): key(m.string) for m in source if m.id}

    assert messages(compiled) == messages(catalog)


def test_the_participant_page_lists_a_day_as_it_happened(client, auth):
    """A correction keeps its event's place among the events of its day, as the rules do."""
    create_group(client, auth)
    joined = accede(client, auth, "JPN", "2024-05-02").get_json()
    left = withdraw(client, auth, "JPN", "2024-05-02").get_json()
    correction = {"reason": "the depositary's wording", "note": "joined and left at once"}
    fixed = client.post(f"{API}/events/{joined['id']}/correction", json=correction, headers=auth)
    html = client.get("/participants/JPN").get_data(as_text=True)
    listed = [int(n) for n in re.findall(r'<article class="event[^"]*" id="event-(\d+)"', html)]
    assert listed == [joined["id"], fixed.get_json()["id"], left["id"]]


BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


@pytest.mark.parametrize("path", ["/nowhere", "/groups/friends/members.csv"])
def test_a_mistyped_address_is_a_page_for_a_browser_and_problem_json_otherwise(client, world, path):
    page = client.get(path, headers={"Accept": BROWSER_ACCEPT})
    assert (page.status_code, page.mimetype) == (404, "text/html")
    assert "Back to the registry" in page.get_data(as_text=True)
    for headers in ({}, {"Accept": "*/*"}, {"Accept": "application/json"}):
        answer = client.get(path, headers=headers)
        assert (answer.status_code, answer.mimetype) == (404, "application/problem+json")
    # The API stays problem+json, whoever asks.
    api = client.get(f"{API}/nowhere", headers={"Accept": BROWSER_ACCEPT})
    assert (api.status_code, api.mimetype) == (404, "application/problem+json")


def test_a_page_posted_to_is_a_405_page_that_says_what_is_allowed(client, world):
    refused = client.post("/groups/friends", headers={"Accept": BROWSER_ACCEPT})
    assert (refused.status_code, refused.mimetype) == (405, "text/html")
    assert "GET" in refused.headers["Allow"]
