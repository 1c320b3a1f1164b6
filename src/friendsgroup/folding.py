"""Text compared as a reader would: case and accents folded the same in Python and in SQL.

``fold`` maps each character through one table, built here from Unicode data; PostgreSQL
applies the same table with ``translate`` and SQLite with a function registered on each
connection, so ``q=TÜRK`` finds Türkiye on both, whatever the server's locale.
"""

import unicodedata

from sqlalchemy import String, literal
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

# Latin, Latin-1, Latin Extended A/B, IPA, Greek, Cyrillic, Latin Extended Additional.
_RANGES = ((0x41, 0x250), (0x370, 0x530), (0x1E00, 0x1F00))


def _folded_char(char: str) -> str:
    """The letter without its accents, in lower case, when that is one character; else itself."""
    bare = "".join(c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c))
    folded = bare.lower() if len(bare) == 1 else char.lower()
    return folded if len(folded) == 1 else char


def _table() -> dict[str, str]:
    pairs = {}
    for start, end in _RANGES:
        for code in range(start, end):
            char = chr(code)
            folded = _folded_char(char)
            if folded != char:
                pairs[char] = folded
    return pairs


FOLDS = _table()
_TRANSLATION = str.maketrans(FOLDS)
SQL_FROM = "".join(FOLDS)
SQL_TO = "".join(FOLDS.values())


def fold(text: str | None) -> str | None:
    """``text`` with case and accents folded (the same as ``folded`` in SQL)."""
    return None if text is None else text.translate(_TRANSLATION)


class folded(FunctionElement):  # noqa: N801 - named like the SQL functions it stands beside
    """A column's text folded as ``fold`` does, in SQL."""

    type = String()
    inherit_cache = True
    name = "folded"


@compiles(folded)
def _compile_folded(element, compiler, **kw):
    # SQLite: the function registered on connect (``register_sqlite``).
    return f"fg_fold({compiler.process(element.clauses, **kw)})"


@compiles(folded, "postgresql")
def _compile_folded_postgresql(element, compiler, **kw):
    source, target = (compiler.process(literal(t, String()), **kw) for t in (SQL_FROM, SQL_TO))
    return f"translate({compiler.process(element.clauses, **kw)}, {source}, {target})"


def register_sqlite(dbapi_connection) -> None:
    """Make ``fg_fold`` available to SQLite statements on this connection."""
    dbapi_connection.create_function("fg_fold", 1, fold, deterministic=True)
