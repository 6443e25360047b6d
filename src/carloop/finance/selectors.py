"""Finance queries. Every query for a caller starts from a ``readable_by`` selector."""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from django.db.models import Count, F, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce

from carloop.core.authz import Subject
from carloop.core.errors import NotFound
from carloop.core.timeutil import start_of_business_day
from carloop.finance import ledger_accounts as accounts
from carloop.finance.models import Application, CobRun, CollectionNote, Installment, Loan, LoanFunding, LoanProduct, Repayment
from carloop.identity import selectors as identity_q
from carloop.identity.contracts import OrganisationInfo
from carloop.ledger import selectors as ledger_q

OPERATOR_ROLES = ("ops", "risk_analyst", "finance_ops")


def applications_readable_by(subject: Subject) -> QuerySet[Application]:
    qs = Application.objects.select_related("product")
    if subject.kind == "customer":
        return qs.filter(customer_id=subject.user_id)
    if subject.kind == "operator" and subject.has_role(*OPERATOR_ROLES):
        return qs
    return qs.none()


def loans_readable_by(subject: Subject) -> QuerySet[Loan]:
    """Customers see their own loans, operators all, partner analysts the loans their institution funds."""
    qs = Loan.objects.select_related("product")
    if subject.kind == "customer":
        return qs.filter(customer_id=subject.user_id)
    if subject.kind == "operator" and subject.has_role(*OPERATOR_ROLES):
        return qs
    partners = subject.org_ids("lender_analyst")
    if partners:
        return qs.filter(pk__in=LoanFunding.objects.filter(partner_id__in=partners).values("loan_id"))
    return qs.none()


def reviews(subject: Subject) -> bool:
    """Risk analysts and operations decide referred applications."""
    return subject.has_role("risk_analyst", "ops")


def writes_off(subject: Subject) -> bool:
    """Finance operations write uncollectable loans off."""
    return subject.has_role("finance_ops")


def tracks_pledges(subject: Subject) -> bool:
    """Operations and finance operations record a car pledge's registration and release."""
    return subject.has_role("ops", "finance_ops")


def runs_operations(subject: Subject) -> bool:
    """Operations, risk analysts and finance operations work the finance desk (queue, book, reconciliation)."""
    return subject.kind == "operator" and subject.has_role(*OPERATOR_ROLES)


def reads_every_partner(subject: Subject) -> bool:
    """Finance operations and risk analysts read every funding partner's books."""
    return subject.has_role("finance_ops", "risk_analyst")


def partners_readable_by(subject: Subject) -> list[OrganisationInfo]:
    """Funding partners whose books the caller reads: all for :func:`reads_every_partner`, else their own."""
    return [o for o in identity_q.organisations_of_kind("funding_partner")
            if reads_every_partner(subject) or subject.in_org(o.id, "lender_analyst")]


def repays(subject: Subject, loan: Loan) -> bool:
    """The borrower repays their loan; finance operations and operations post repayments for them."""
    return (subject.kind == "customer" and loan.customer_id == subject.user_id) or subject.has_role("finance_ops", "ops")


def readable_partner(subject: Subject, partner_id: uuid.UUID) -> uuid.UUID:
    """A funding partner whose books (portfolio, statements) the caller reads: its own analysts, finance operations
    and risk analysts. Anyone else gets a 404."""
    if subject.in_org(partner_id, "lender_analyst") or reads_every_partner(subject):
        return partner_id
    raise NotFound()


def loan_id_of(application: Application) -> uuid.UUID | None:
    """The contract an accepted application became."""
    return Loan.objects.filter(application=application).values_list("pk", flat=True).first()


def get_application(subject: Subject, application_id: uuid.UUID | str) -> Application:
    app = applications_readable_by(subject).filter(pk=application_id).first()
    if app is None:
        raise NotFound()
    return app


def get_loan(subject: Subject, loan_id: uuid.UUID | str) -> Loan:
    loan = loans_readable_by(subject).filter(pk=loan_id).first()
    if loan is None:
        raise NotFound()
    return loan


def installments(loan: Loan) -> list[Installment]:
    return list(loan.installments.order_by("period"))


@dataclass(frozen=True)
class PlannedShare:
    partner: Any  # the partner Organisation, None for the platform
    share_bp: int


def planned_funding(product: LoanProduct) -> list[PlannedShare]:
    """Who would fund a loan of ``product`` and in what shares (its funding plan; the platform funds the rest)."""
    shares = [PlannedShare(s.partner, s.share_bp) for s in product.funding_plan.shares.select_related("partner")] \
        if product.funding_plan else []
    rest = 10_000 - sum(s.share_bp for s in shares)
    return [*shares, PlannedShare(None, rest)] if rest else shares


def current_products() -> list[LoanProduct]:
    return list(LoanProduct.objects.filter(is_current=True).order_by("kind", "code"))


def reconcile_funders() -> list[dict[str, Any]]:
    """Mismatches between each funder's ledger receivable and the outstanding principal of its loan shares
    (an empty list means loans and ledger agree to the fen)."""
    out = []
    totals = dict(LoanFunding.objects.filter(loan__state=Loan.State.ACTIVE).values("partner_id")
                  .annotate(s=Sum("outstanding_fen")).values_list("partner_id", "s"))
    for partner, expected in totals.items():
        key = accounts.funder_key(partner)
        booked = ledger_q.balance(accounts.receivable(key).id).balance_fen
        if booked != expected:
            out.append({"funder": key, "ledger_fen": booked, "loans_fen": expected})
    shares = Loan.objects.filter(state=Loan.State.ACTIVE).annotate(s=Sum("funding__outstanding_fen")).exclude(
        s=F("outstanding_principal_fen")).count()
    if shares:
        out.append({"loans_with_share_mismatch": shares})
    return out


# ------------------------------------------------------------------------------------------------ partner views


@dataclass
class Portfolio:
    partner_id: uuid.UUID
    loans: int = 0
    principal_fen: int = 0
    outstanding_fen: int = 0
    buckets: dict[str, int] = field(default_factory=dict)  # bucket -> outstanding of the partner's share
    vintages: list[dict[str, Any]] = field(default_factory=list)


def portfolio(partner_id: uuid.UUID) -> Portfolio:
    shares = LoanFunding.objects.filter(partner_id=partner_id).exclude(loan__state=Loan.State.SIGNED)
    result = Portfolio(partner_id)
    agg = shares.aggregate(n=Count("id"), p=Sum("principal_fen"), o=Sum("outstanding_fen"))
    result.loans, result.principal_fen, result.outstanding_fen = agg["n"] or 0, agg["p"] or 0, agg["o"] or 0
    result.buckets = dict.fromkeys(("current", "1-30", "31-60", "61-90", "90+"), 0)
    for bucket, amount in shares.filter(loan__state=Loan.State.ACTIVE).values("loan__bucket").annotate(
            s=Sum("outstanding_fen")).values_list("loan__bucket", "s"):
        result.buckets[bucket] = amount
    vintages: dict[str, dict[str, Any]] = defaultdict(lambda: {"loans": 0, "principal_fen": 0, "outstanding_fen": 0,
                                                                "dpd30_fen": 0, "written_off_fen": 0})
    for start, state, bucket, principal, outstanding, written in shares.values_list(
            "loan__start_date", "loan__state", "loan__bucket", "principal_fen", "outstanding_fen", "loan__written_off_fen"):
        v = vintages[f"{start:%Y-%m}"]
        v["loans"] += 1
        v["principal_fen"] += principal
        v["outstanding_fen"] += outstanding
        if state == Loan.State.ACTIVE and bucket in ("31-60", "61-90", "90+"):
            v["dpd30_fen"] += outstanding
        if state == Loan.State.WRITTEN_OFF:
            v["written_off_fen"] += written
    result.vintages = [{"vintage": k, **v} for k, v in sorted(vintages.items())]
    return result


@dataclass
class DailyStatement:
    partner_id: uuid.UUID
    day: date
    opening_fen: int  # the pool's cash at the start of the business day
    closing_fen: int
    ledger: dict[str, int]  # by movement: capital, disbursed, principal, interest, unwound, refunded
    loans: dict[str, int]  # the same movements from finance's own records
    reconciled: bool
    lines: list[dict[str, Any]]
    receivable_opening_fen: int = 0  # the partner's outstanding principal (receivable) at the start of the day
    receivable_closing_fen: int = 0
    receivable_moves: dict[str, int] = field(default_factory=dict)  # lent, repaid (principal repaid or unwound), written_off


CODE_NAMES = {accounts.T_CAPITAL: "capital", accounts.T_DISBURSE: "disbursed", accounts.T_UPFRONT_FEE: "disbursed",
              accounts.T_PRINCIPAL: "principal", accounts.T_INTEREST: "interest", accounts.T_UNWIND: "unwound",
              accounts.T_REFUND: "refunded"}
RECEIVABLE_NAMES = {accounts.T_BOOK: "lent", accounts.T_UNBOOK: "repaid", accounts.T_WRITEOFF: "written_off"}  # repaid: or unwound


def _day_of(account_id: uuid.UUID, day: date) -> tuple[int, int, list[Any]]:
    """An account's balance (normal side) at the start and end of a business day, and the day's lines (newest
    first). Walked back from the current balance (transfers of one batch share a timestamp, so "balance after" of
    a single line is not a reliable cut-off): closing = now − later movements, opening = closing − the day's; a day
    without movements carries the balance over."""
    start, end = start_of_business_day(day), start_of_business_day(day + timedelta(days=1))
    balance = ledger_q.balance(account_id)
    increases = "debit" if balance.debit_normal else "credit"
    closing = balance.balance_fen
    lines: list[Any] = []
    cursor = None
    done = False
    while not done:
        page = ledger_q.statement(account_id, cursor=cursor, limit=500)
        for line in page.lines:
            signed = line.amount_fen if line.side == increases else -line.amount_fen
            if line.created_at >= end:
                closing -= signed
            elif line.created_at >= start:
                lines.append(line)
            else:
                done = True
                break
        cursor = page.next_cursor
        done = done or cursor is None
    opening = closing - sum(line.amount_fen if line.side == increases else -line.amount_fen for line in lines)
    return opening, closing, lines


def daily_statement(partner_id: uuid.UUID, day: date) -> DailyStatement:
    """The partner's pool movements on a business day, from the ledger and from the loans, which must agree; and
    beside the cash, the principal its borrowers owe it (the receivable), carried from day to day."""
    key = accounts.funder_key(partner_id)
    opening, closing, lines = _day_of(accounts.pool(key).id, day)
    owed_opening, owed_closing, owed_lines = _day_of(accounts.receivable(key).id, day)
    by_movement = dict.fromkeys(("capital", "disbursed", "principal", "interest", "unwound", "refunded"), 0)
    for line in lines:
        name = CODE_NAMES.get(line.code)
        if name:
            by_movement[name] += line.amount_fen
    receivable_moves = dict.fromkeys(("lent", "repaid", "written_off"), 0)
    for line in owed_lines:
        receivable_moves[RECEIVABLE_NAMES[line.code]] += line.amount_fen
    start, end = start_of_business_day(day), start_of_business_day(day + timedelta(days=1))
    window = Q(created_at__gte=start, created_at__lt=end)
    expected = {"capital": by_movement["capital"], "principal": 0, "interest": 0, "unwound": 0, "refunded": 0,
                "disbursed": LoanFunding.objects.filter(window, partner_id=partner_id).aggregate(s=Sum("principal_fen"))["s"] or 0}
    split_key = str(partner_id)
    for split in Repayment.objects.filter(window, loan__funding__partner_id=partner_id).values_list("split", flat=True):
        expected["principal"] += split.get(split_key, {}).get("principal", 0)
        expected["interest"] += split.get(split_key, {}).get("interest", 0)
    unwound = Loan.objects.filter(unwound_at__gte=start, unwound_at__lt=end, funding__partner_id=partner_id)
    for record in unwound.values_list("unwind", flat=True):
        expected["unwound"] += record.get(split_key, {}).get("returned", 0)
        expected["refunded"] += record.get(split_key, {}).get("refunded", 0)
    inflow = sum(by_movement[m] for m in ("capital", "principal", "interest", "unwound"))
    reconciled = expected == by_movement and opening + inflow - by_movement["disbursed"] - by_movement["refunded"] == closing
    return DailyStatement(partner_id, day, opening, closing, by_movement, expected, reconciled, [
        {"at": line.created_at.isoformat(), "side": line.side, "amount_fen": line.amount_fen, "code": line.code,
         "memo": line.memo, "balance_after_fen": line.balance_after_fen} for line in reversed(lines)],
        owed_opening, owed_closing, receivable_moves)


def loan_book(loans: QuerySet[Loan]) -> dict[str, Any]:
    """Counts and principal by state, outstanding by DPD bucket for active loans."""
    by_state = {row["state"]: row for row in loans.values("state").annotate(n=Count("id"), principal=Sum("principal_fen"),
                                                                             outstanding=Sum("outstanding_principal_fen"))}
    buckets = dict(loans.filter(state=Loan.State.ACTIVE).values("bucket").annotate(s=Sum("outstanding_principal_fen"))
                   .values_list("bucket", "s"))
    return {"by_state": by_state, "buckets": [(b, buckets.get(b, 0)) for b in ("current", "1-30", "31-60", "61-90", "90+")]}


# ------------------------------------------------------------------------------------------------ close of business


def runs_cob(subject: Subject) -> bool:
    """Finance operations watch the daily close of business and rerun a date that failed or stopped part-way."""
    return subject.kind == "operator" and subject.has_role("finance_ops")


def cob_runs_readable_by(subject: Subject) -> QuerySet[CobRun]:
    """The COB runs, newest date first, for :func:`runs_cob`; nothing for anyone else."""
    return CobRun.objects.order_by("-business_date") if runs_cob(subject) else CobRun.objects.none()


def get_cob_run(subject: Subject, day: date) -> CobRun:
    run = cob_runs_readable_by(subject).filter(business_date=day).first()
    if run is None:
        raise NotFound()
    return run


# ------------------------------------------------------------------------------------------------ collections

COLLECTION_SORTS: dict[str, tuple[Any, ...]] = {"dpd": ("oldest_unpaid_due", "pk"), "overdue": ("-overdue_fen", "pk"),
                    "outstanding": ("-outstanding_principal_fen", "pk"), "contact": (F("last_contact_at").asc(nulls_first=True), "pk")}
DPD_BUCKETS = ("1-30", "31-60", "61-90", "90+")


def works_collections(subject: Subject) -> bool:
    """Finance operations work the delinquent loans: contacts, promises to pay, exports."""
    return subject.kind == "operator" and subject.has_role("finance_ops")


def delinquent_loans(subject: Subject, *, bucket: str = "", partner: str = "", product: str = "",
                     sort: str = "dpd") -> QuerySet[Loan]:
    """Active loans past due for :func:`works_collections` (nothing for anyone else), filtered by DPD bucket,
    funding partner (an organisation id, or ``platform``) and product code, with the amount overdue and the last
    collection contact."""
    if not works_collections(subject):
        return Loan.objects.none()
    owed = (F("installments__principal_fen") - F("installments__paid_principal_fen") + F("installments__interest_fen")
            - F("installments__paid_interest_fen") + F("installments__fee_fen") - F("installments__paid_fee_fen")
            + F("installments__penalty_fen") - F("installments__paid_penalty_fen"))
    last = CollectionNote.objects.filter(loan=OuterRef("pk")).order_by("-created_at")
    qs = (Loan.objects.filter(state=Loan.State.ACTIVE).exclude(bucket="current").select_related("product")
          .annotate(overdue_fen=Coalesce(Sum(owed, filter=Q(installments__status=Installment.Status.OVERDUE)), 0),
                    last_contact_at=Subquery(last.values("created_at")[:1]),
                    last_outcome=Subquery(last.values("outcome")[:1])))
    if bucket in DPD_BUCKETS:
        qs = qs.filter(bucket=bucket)
    if partner == "platform":
        qs = qs.filter(pk__in=LoanFunding.objects.filter(partner__isnull=True).values("loan_id"))
    elif partner:
        try:
            qs = qs.filter(pk__in=LoanFunding.objects.filter(partner_id=uuid.UUID(partner)).values("loan_id"))
        except ValueError:
            qs = qs.none()
    if product:
        qs = qs.filter(product__code=product)
    return qs.order_by(*COLLECTION_SORTS.get(sort, COLLECTION_SORTS["dpd"]))


def funders_of(loan_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[uuid.UUID | None]]:
    """Each loan's funders (partner organisation ids; None for the platform's own share)."""
    out: dict[uuid.UUID, list[uuid.UUID | None]] = defaultdict(list)
    for loan_id, partner_id in LoanFunding.objects.filter(loan_id__in=loan_ids).order_by("-share_bp").values_list("loan_id", "partner_id"):
        out[loan_id].append(partner_id)
    return out


def collection_case(subject: Subject, loan_id: uuid.UUID) -> Loan:
    """One delinquent loan with its amount overdue, for :func:`works_collections`; 404 for anyone else."""
    loan = delinquent_loans(subject).filter(pk=loan_id).first()
    if loan is None:
        raise NotFound()
    return loan
