"""Walk the site as one signed-in viewer: every page in their navigation, then every same-site GET link on
those pages (``<a href>`` and ``hx-get``), each fetched once. Used by the link and the one-language tests."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

from django.test import Client

from carloop.identity.seed import MEMBERS, STAFF

DEMO_LOGINS = ["owner", *(member[1] for member in STAFF + MEMBERS)]  # type: ignore[operator]
"""Every login `carloop seed` prints (the demo owner, platform staff, organisation members)."""

SKIP_PREFIXES = ("/static/", "/admin/", "/api/", "/docs/api/", "/logout/")
"""Not the site's pages: files, Django admin's own (generated) screens, the API and its docs, signing out."""


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.nav: list[str] = []
        self._in_nav = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "nav":
            self._in_nav += 1
        for name in ("href", "hx-get"):
            if (tag == "a" or name == "hx-get") and values.get(name):
                self.links.append(str(values[name]))
                if self._in_nav and tag == "a":
                    self.nav.append(str(values[name]))

    def handle_endtag(self, tag: str) -> None:
        if tag == "nav" and self._in_nav:
            self._in_nav -= 1


def links(html: str, base: str) -> tuple[list[str], list[str]]:
    """(every same-site link, the navigation's links) on a page, as paths with their query, in page order."""
    parser = _Links()
    parser.feed(html)

    def local(href: str) -> str | None:
        parts = urlsplit(urljoin(base, href))
        if parts.scheme not in ("", "http") or parts.netloc not in ("", "testserver"):
            return None
        if parts.path.startswith(SKIP_PREFIXES) or "lang=" in parts.query:
            return None
        return parts.path + (f"?{parts.query}" if parts.query else "")

    return ([u for u in map(local, parser.links) if u], [u for u in map(local, parser.nav) if u])


@dataclass
class Fetched:
    url: str
    status: int
    final: str
    html: str
    found_on: str


def walk(client: Client, lang: str = "zh-hans", depth: int = 1) -> Iterator[Fetched]:
    """Home and the navigation's pages, then the links found on them (``depth`` steps on), following redirects."""
    seen: set[str] = set()

    def fetch(url: str, found_on: str) -> Fetched:
        seen.add(url)
        response = client.get(f"{url}{'&' if '?' in url else '?'}lang={lang}", follow=True)
        final = response.request["PATH_INFO"]
        html = response.content.decode() if response["Content-Type"].startswith("text/html") else ""
        return Fetched(url, response.status_code, final, html, found_on)

    home = fetch("/", "")
    yield home
    _, nav = links(home.html, "/")
    level = [fetch(url, "/ (navigation)") for url in dict.fromkeys(nav) if url not in seen]
    yield from level
    level.insert(0, home)
    for _ in range(depth):
        found_now: list[Fetched] = []
        for page in level:
            for url in dict.fromkeys(links(page.html, page.final)[0]):
                if url not in seen:
                    found_now.append(fetch(url, page.url))
                    yield found_now[-1]
        level = found_now
