"""Navigation registry: apps register their pages in ``AppConfig.ready``; the shell shows what a subject may use.

Never show a link its viewer cannot open: an app registers, for each page that not everyone may open, the
predicate its view checks (``page("risk:rings", selectors.may_analyse)``). The navigation shows an item only when
its page opens for the viewer, and templates ask the same predicate with ``{% if subject|opens:"risk:rings" %}``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from carloop.core.authz import Subject


def everyone(subject: Subject) -> bool:
    return True


@dataclass(frozen=True)
class NavItem:
    """A page in the navigation, shown to whom ``visible`` admits among those the page opens for (``page``)."""

    url_name: str
    zh: str
    en: str
    visible: Callable[[Subject], bool] = everyone
    order: int = 100
    description_zh: str = ""
    description_en: str = ""


_items: list[NavItem] = []
_pages: dict[str, Callable[[Subject], bool]] = {}


def register(item: NavItem) -> None:
    if all(existing.url_name != item.url_name for existing in _items):
        _items.append(item)


def page(url_name: str, may_open: Callable[[Subject], bool]) -> None:
    """Who may open the page ``url_name``: the predicate its view decides by."""
    _pages[url_name] = may_open


def opens(subject: Subject, url_name: str) -> bool:
    """Whether the page opens for the subject (pages with no registered predicate open for everyone)."""
    return _pages.get(url_name, everyone)(subject)


def items_for(subject: Subject) -> list[NavItem]:
    return sorted((i for i in _items if i.visible(subject) and opens(subject, i.url_name)), key=lambda i: i.order)


def customers(subject: Subject) -> bool:
    return subject.kind == "customer"


def operators(*roles: str) -> Callable[[Subject], bool]:
    return lambda subject: subject.kind == "operator" and (not roles or subject.has_role(*roles))


def org_members(*roles: str) -> Callable[[Subject], bool]:
    return lambda subject: bool(subject.org_ids(*roles))
