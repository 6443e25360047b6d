"""The cashier's pages: an intent's result page (it polls until the payment settles), the simulator provider's
scan-to-pay page (a QR code of its own address, and the button a phone would show), and the finance-ops page."""

from __future__ import annotations

import uuid

import segno
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from carloop.core.errors import Problem
from carloop.identity.selectors import subject_of
from carloop.payments import selectors
from carloop.payments.bank_transfer import receiving_account
from carloop.payments.models import SimulatorOrder
from carloop.payments.simulator import SIMULATOR


def _intent(request: HttpRequest, intent_id: uuid.UUID):  # type: ignore[no-untyped-def]
    try:
        return selectors.get_intent(subject_of(request), intent_id)
    except Problem:
        raise Http404 from None


@login_required
def intent_page(request: HttpRequest, intent_id: uuid.UUID) -> HttpResponse:
    intent = _intent(request, intent_id)
    return render(request, "payments/intent.html", {"intent": intent, "external": selectors.external_tender(intent),
                                                    "receiving_account": receiving_account()})


@login_required
def intent_status(request: HttpRequest, intent_id: uuid.UUID) -> HttpResponse:
    """The result fragment the intent page polls (htmx) while the payment is open."""
    intent = _intent(request, intent_id)
    return render(request, "payments/_status.html", {"intent": intent})


@require_http_methods(["GET", "POST"])
def simulator_pay(request: HttpRequest, order_no: str) -> HttpResponse:
    """The provider's page: anyone holding the (unguessable) order number may pay it, as with a real QR code."""
    order = SimulatorOrder.objects.filter(order_no=order_no).first()
    if order is None:
        raise Http404
    if request.method == "POST":
        SIMULATOR.pay(order_no)
        order.refresh_from_db()
    qr = segno.make(request.build_absolute_uri(), error="m").svg_inline(scale=5, dark="#1f2937")
    return render(request, "payments/sim_pay.html", {"order": order, "qr": qr})


@login_required
def ops(request: HttpRequest) -> HttpResponse:
    subject = subject_of(request)
    if not subject.has_role("finance_ops"):
        return redirect("web:home")
    intents = selectors.readable_by(subject).order_by("-created_at")[:50]
    lines = selectors.bank_lines_readable_by(subject).order_by("-value_date")[:50]
    return render(request, "payments/ops.html", {"intents": intents, "lines": lines,
                                                 "runs": selectors.reconciliation_runs(subject)[:14],
                                                 "clearing": selectors.clearing_balances()})
