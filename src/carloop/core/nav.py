"""Navigation registry: apps register their pages in ``AppConfig.ready``; the shell shows what a subject may use."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from carloop.core.authz import Subject


@dataclass(frozen=True)
class NavItem:
    url_name: str
    zh: str
    en: str
    visible: Callable[[Subject], bool]
    order: int = 100
    description_zh: str = ""
    description_en: str = ""


_items: list[NavItem] = []


def register(item: NavItem) -> None:
    if all(existing.url_name != item.url_name for existing in _items):
        _items.append(item)


def items_for(subject: Subject) -> list[NavItem]:
    return sorted((i for i in _items if i.visible(subject)), key=lambda i: i.order)


def everyone(subject: Subject) -> bool:
    return True


def customers(subject: Subject) -> bool:
    return subject.kind == "customer"


def operators(*roles: str) -> Callable[[Subject], bool]:
    return lambda subject: subject.kind == "operator" and (not roles or subject.has_role(*roles))


def org_members(*roles: str) -> Callable[[Subject], bool]:
    return lambda subject: bool(subject.org_ids(*roles))
