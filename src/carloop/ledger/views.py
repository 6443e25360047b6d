"""Operator pages: the account list with balances, and one account's statement (balance history)."""

from __future__ import annotations

import uuid

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from carloop.core.authz import request_subject
from carloop.core.errors import Problem
from carloop.core.i18n import t
from carloop.ledger import selectors
from carloop.ledger.contracts import AccountFlags

PAGE = 50


@login_required
def accounts(request: HttpRequest) -> HttpResponse:
    subject = request_subject(request)
    if not selectors.reads_every_account(subject):
        raise Http404
    query = request.GET.get("q", "").strip()
    page = Paginator(selectors.search_accounts(subject, query), PAGE).get_page(request.GET.get("page"))
    rows = [(info, bal, _flag_labels(info.flags)) for info, bal in selectors.with_balances(page.object_list)]
    sums = selectors.totals()
    totals = {f: sums.get(f"CNY:{f}", 0) for f in selectors.TOTAL_FIELDS}
    return render(request, "ledger/accounts.html", {"page": page, "rows": rows, "q": query, "totals": totals})


@login_required
def statement(request: HttpRequest, account_id: uuid.UUID) -> HttpResponse:
    subject = request_subject(request)
    try:
        info, bal = selectors.account_with_balance(subject, account_id)
        page = selectors.statement(info.id, cursor=request.GET.get("cursor") or None, limit=PAGE)
    except Problem as problem:
        if problem.status == 404 or problem.slug == "invalid-cursor":
            raise Http404 from None
        raise
    names = selectors.account_names([line.counterparty for line in page.lines])
    lines = [(line, names.get(line.counterparty, str(line.counterparty))) for line in page.lines]
    return render(request, "ledger/statement.html",
                  {"account": info, "balance": bal, "flags": _flag_labels(info.flags), "lines": lines, "next_cursor": page.next_cursor})


def _flag_labels(flags: AccountFlags) -> list[str]:
    labels = {
        AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS: t("借方不超过贷方", "debits ≤ credits"),
        AccountFlags.CREDITS_MUST_NOT_EXCEED_DEBITS: t("贷方不超过借方", "credits ≤ debits"),
        AccountFlags.HISTORY: t("保留余额历史", "balance history kept"),
    }
    return [label for bit, label in labels.items() if flags & bit]
