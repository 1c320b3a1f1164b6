"""``make screenshots``: the README's pictures of the pages, from the seeded registry."""

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from tests import browser
from tests.support import console_script, running_server

DOCS = Path(__file__).resolve().parent.parent / "docs"
PAGES = {
    "home.png": ("/", 1200),
    "group.png": ("/groups/haip-friends-group?as_of=2025-10-31", 1200),
    "group-ja.png": ("/groups/haip-friends-group?as_of=2025-10-31&lang=ja", 1200),
    "participant.png": ("/participants/JPN", 1200),
    "group-narrow.png": ("/groups/haip-friends-group?as_of=2025-10-31", 360),
}


def main() -> int:
    reason = browser.missing()
    if reason:
        print(f"screenshots: {reason}", file=sys.stderr)
        return 1
    DOCS.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="friendsgroup-shots-") as work:
        url = f"sqlite:///{work}/shots.sqlite3"
        env = {**os.environ, "DATABASE_URL": url}
        for command in (["db", "upgrade"], ["seed"]):
            subprocess.run([console_script("friendsgroup"), *command], env=env, check=True)
        with running_server(url, Path(work), workers=1) as server:
            driver = browser.chrome()
            try:
                for name, (path, width) in PAGES.items():
                    driver.set_window_size(width, 900)
                    driver.get(server.url + path)
                    browser.full_page_screenshot(driver, DOCS / name, width, limit=2400)
                    print(f"wrote docs/{name}")
            finally:
                driver.quit()
    return 0


if __name__ == "__main__":
    sys.exit(main())
