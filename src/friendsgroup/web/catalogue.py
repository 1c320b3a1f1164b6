"""``python -m friendsgroup.web.catalogue``: extract the pages' messages, update and compile the
catalogues (the compiled ``.mo`` files are committed, so that an install needs no build step)."""

import io
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

from .i18n import DEFAULT_LANGUAGE, LANGUAGES, TRANSLATIONS

HERE = Path(__file__).parent
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "_l": None}
JINJA_OPTIONS = {"extensions": "jinja2.ext.i18n", "trim_blocks": "1", "lstrip_blocks": "1"}


def extract() -> Catalog:
    """Every message of the templates and the Python modules of the pages."""
    catalog = Catalog(project="friendsgroup", fuzzy=False)
    found = extract_from_dir(
        HERE,
        method_map=[("**.py", "python"), ("**/templates/**.html", "jinja2")],
        options_map={"**/templates/**.html": JINJA_OPTIONS},
        keywords=KEYWORDS,
        comment_tags=("Translators:",),
        callback=None,
    )
    for _filename, _lineno, message, comments, context in found:
        catalog.add(message, None, [], auto_comments=comments, context=context)
    return catalog


def po_path(lang: str) -> Path:
    return TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po"


def read(lang: str) -> Catalog:
    """The catalogue of one language as it is on disk."""
    with po_path(lang).open("rb") as handle:
        return read_po(handle, locale=lang)


def update() -> None:
    """Merge newly extracted messages into each translated catalogue."""
    template = extract()
    for lang in LANGUAGES:
        if lang == DEFAULT_LANGUAGE:
            continue
        path = po_path(lang)
        path.parent.mkdir(parents=True, exist_ok=True)
        catalog = read(lang) if path.exists() else Catalog(locale=lang)
        catalog.update(template, no_fuzzy_matching=True)
        catalog.project = catalog.copyright_holder = "friendsgroup"
        catalog.fuzzy, catalog.msgid_bugs_address = False, ""
        buffer = io.BytesIO()
        write_po(buffer, catalog, no_location=True, width=100)
        path.write_bytes(buffer.getvalue())


def compile_all() -> None:
    """Write the ``.mo`` beside each ``.po``."""
    for lang in LANGUAGES:
        if lang == DEFAULT_LANGUAGE:
            continue
        with po_path(lang).with_suffix(".mo").open("wb") as handle:
            write_mo(handle, read(lang))


def main(argv: list[str]) -> int:
    commands = {"update": update, "compile": compile_all}
    if not argv or argv[0] not in commands:
        print("usage: python -m friendsgroup.web.catalogue update|compile", file=sys.stderr)
        return 2
    commands[argv[0]]()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
