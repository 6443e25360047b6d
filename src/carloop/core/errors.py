"""RFC 9457 problem details: one exception type for every expected failure, rendered as problem+json."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

PROBLEM_BASE = "https://carloop.dev/problems/"


@dataclass(frozen=True)
class FieldError:
    """One invalid field: a JSON pointer into the request body and a bilingual message."""

    pointer: str
    zh: str
    en: str


@dataclass
class Problem(Exception):  # noqa: N818 - RFC 9457 calls it a problem
    """An expected failure with an HTTP status, a stable slug and a bilingual human explanation."""

    status: int
    slug: str
    zh: str
    en: str
    errors: list[FieldError] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)  # response headers, e.g. Retry-After on a 429

    def __post_init__(self) -> None:
        super().__init__(f"{self.status} {self.slug}: {self.en}")

    @property
    def type_uri(self) -> str:
        return PROBLEM_BASE + self.slug

    def detail(self, lang: str) -> str:
        return self.en if lang == "en" else self.zh

    def as_dict(self, lang: str, instance: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": self.type_uri,
            "title": self.en if lang == "en" else self.zh,
            "status": self.status,
            "detail": self.detail(lang),
            "detail_i18n": {"zh-Hans": self.zh, "en": self.en},
        }
        if instance:
            body["instance"] = instance
        if self.errors:
            body["errors"] = [
                {"pointer": e.pointer, "detail": e.en if lang == "en" else e.zh, "detail_i18n": {"zh-Hans": e.zh, "en": e.en}}
                for e in self.errors
            ]
        body.update(self.extra)
        return body


def NotFound(zh: str = "未找到该对象", en: str = "Not found") -> Problem:  # noqa: N802 - reads like an exception
    return Problem(404, "not-found", zh, en)


def Forbidden(zh: str = "无权执行此操作", en: str = "You are not allowed to do this") -> Problem:  # noqa: N802
    return Problem(403, "forbidden", zh, en)


def Unauthorized() -> Problem:  # noqa: N802
    return Problem(401, "unauthorized", "请先登录", "Authentication required")


def Conflict(slug: str, zh: str, en: str, **extra: Any) -> Problem:  # noqa: N802
    return Problem(409, slug, zh, en, extra=extra)


def Invalid(slug: str, zh: str, en: str, errors: list[FieldError] | None = None, **extra: Any) -> Problem:  # noqa: N802
    return Problem(422, slug, zh, en, errors=list(errors or []), extra=extra)
