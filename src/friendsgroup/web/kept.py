"""Group pages "as known now" not rendered again while their group's stamp holds.

The same rule as the API's kept reports (``api.report_cache``): from a page's second asking
on, the stamp is read before the page is rendered, and a page is kept only if every write
stamped is visible to it. A page differs by its address (query included), its language, the
host it links to and the day (its chart runs to today), so those are its key.
"""

from collections.abc import Callable

from flask import current_app, request

from ..db import get_session
from ..reports.kept import kept_in
from ..timeutil import today
from .i18n import language

PAGE_CACHE = "friendsgroup.page_cache"


def kept_page(group_id: int, render: Callable[[], str]) -> str:
    """The page's HTML: kept while the group's stamp holds, else ``render()``."""
    key = (group_id, request.full_path, language(), request.host_url, today())
    return kept_in(current_app.extensions, PAGE_CACHE).answer(get_session(), group_id, key, render)
