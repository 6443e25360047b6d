"""Walk the site as one signed-in viewer: every page in their navigation, then every same-site GET link on
those pages (``<a href>`` and ``hx-get``), each fetched once. Used by the link and the one-language tests."""

from __future__ import annotations

import re
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


class _Text(HTMLParser):
    """The text a reader sees: text nodes and the placeholder, title and aria-label attributes, leaving out
    scripts, styles, ``<code>`` (identifiers shown as such), a ``<textarea>``'s content (the user's input) and whatever an element marks with a ``lang`` of its
    own (the language switcher's "中文", a Chinese name on an English page)."""

    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._stack: list[tuple[str, bool]] = []  # open elements: (tag, is its content left out)

    def _skipping(self) -> bool:
        return any(skip for _, skip in self._stack)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        skip = tag in ("script", "style", "code", "textarea") or ("lang" in values and tag != "html")
        if not self._skipping() and not skip:
            self.parts.extend(str(values[a]) for a in ("placeholder", "title", "aria-label") if values.get(a))
        if tag not in self.VOID:
            self._stack.append((tag, skip))

    def handle_endtag(self, tag: str) -> None:
        if any(open_tag == tag for open_tag, _ in self._stack):  # closes what HTML left open inside it too
            while self._stack.pop()[0] != tag:
                pass

    def handle_data(self, data: str) -> None:
        if not self._skipping() and data.strip():
            self.parts.append(data.strip())


def visible_text(html: str) -> list[str]:
    parser = _Text()
    parser.feed(html)
    return parser.parts


HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
MASKED_NAME = re.compile(r"[\u4e00-\u9fff]\*+")  # a person's masked name: 王*, 欧阳**
CITY = re.compile(r"[\u4e00-\u9fff]{1,6}市")  # place names are proper names
PLATE = re.compile(r"[京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼][A-Z]")  # a number plate's province
CODE = re.compile(r"^[a-z][a-z0-9]*(?:[_-][a-z0-9]+)*$")


def chinese_on_an_english_page(parts: list[str], names: set[str]) -> list[str]:
    """Runs of Chinese characters outside proper names (``names``, masked people, cities, number plates)."""
    found = []
    for part in parts:
        text = PLATE.sub("", MASKED_NAME.sub("", CITY.sub("", part)))
        for name in sorted(names, key=len, reverse=True):  # 金融运营复核 before 运营
            if name in text:
                text = text.replace(name, "")
        found.extend(HAN.findall(text))
    return found


def english_on_a_chinese_page(parts: list[str], codes: set[str], english: set[str]) -> list[str]:
    """Raw codes (``codes``: every code a vocabulary labels), English labels (``english``) and Python reprs."""
    found = []
    for part in parts:
        found.extend(word for word in re.findall(r"[A-Za-z][A-Za-z0-9_-]+", part) if word in codes)
        found.extend(label for label in english if label in part)
        if "['" in part or "{'" in part:
            found.append(part)
    return found
