"""Languages of the pages: English and Japanese, chosen by ``?lang=`` or ``Accept-Language``."""

import gettext
from datetime import date
from functools import cache, lru_cache
from pathlib import Path

import pycountry
from flask import Flask, g, request
from flask_babel import Babel, format_date, get_locale
from flask_babel import gettext as translate
from markupsafe import Markup

LANGUAGES = ("en", "ja")
DEFAULT_LANGUAGE = "en"
TRANSLATIONS = Path(__file__).parent / "translations"


def select_locale() -> str:
    """``?lang=`` when it names a language of the pages, else the browser's best match."""
    asked = request.args.get("lang")
    if asked in LANGUAGES:
        return asked
    return request.accept_languages.best_match(LANGUAGES) or DEFAULT_LANGUAGE


def language() -> str:
    """The language of the current page (asked once per request: every date and name asks)."""
    if "page_language" not in g:
        g.page_language = str(get_locale() or DEFAULT_LANGUAGE)
    return g.page_language


@cache
def _iso_names(lang: str) -> gettext.NullTranslations:
    # pycountry ships the iso-codes project's translations of the ISO 3166 names.
    return gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=[lang], fallback=True)


@cache
def _iso_name_of(code: str) -> str | None:
    country = pycountry.countries.get(alpha_3=code) if len(code) == 3 else None
    return country.name if country else None


def participant_name(code: str, name: str, kind: str) -> str:
    """A participant's name in the page's language: ISO's translation for a country."""
    lang = language()
    if lang == DEFAULT_LANGUAGE or kind != "country":
        return name
    iso = _iso_name_of(code)
    if iso is None:
        return name
    translated = _iso_names(lang).gettext(iso)
    return translated if translated != iso else name


def day(value, style: str = "medium") -> str:
    """A date (or ISO date text) written for the page's language."""
    if value is None:
        return ""
    if isinstance(value, str):
        value = date.fromisoformat(value[:10])
    return _formatted(value, style, language())


@lru_cache(maxsize=4096)
def _formatted(value: date, style: str, lang: str) -> str:
    # A page writes the same few hundred dates over and over; Babel's formatting is the cost.
    return format_date(value, style)


def time_tag(value, style: str = "medium") -> Markup:
    """``<time datetime="…">`` with the date written for the page's language."""
    if not value:
        return Markup("")
    iso = value if isinstance(value, str) else value.isoformat()
    return Markup('<time datetime="%s">%s</time>') % (iso, day(value, style))


@lru_cache(maxsize=1024)
def _word(word: str, lang: str) -> str:
    return translate(word)


def word(value: str | None) -> str:
    """A word from the data (a region, a kind, a reliability) in the page's language."""
    return _word(value, language()) if value else ""


def init_app(app: Flask) -> Babel:
    """Bind Flask-Babel with the catalogues of ``translations/``."""
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(TRANSLATIONS))
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT_LANGUAGE)
    babel = Babel(app, locale_selector=select_locale)
    app.jinja_env.filters["day"] = day
    app.jinja_env.globals["time_tag"] = time_tag
    app.jinja_env.globals["word"] = word
    app.jinja_env.globals["participant_name"] = participant_name
    app.jinja_env.globals["language"] = language
    return babel
