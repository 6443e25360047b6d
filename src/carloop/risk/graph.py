"""Entity graph: customers linked through phones, ID numbers, devices, bank cards, addresses and contacts.

Connected components are maintained incrementally: linking a customer to an identifier merges the two
components by relabelling the smaller one. ``distance_to_blacklisted`` runs a bounded breadth-first search
with one query per hop.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.db.models import Count, Exists, IntegerField, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce

from carloop.core.ids import new_id
from carloop.risk.models import GraphEdge, GraphNode

ENTITY_KINDS = ("phone", "id_number", "device", "bank_card", "address")
BLACKLIST_TO_NODE = {"id_number": "id_number", "phone": "phone", "device": "device", "bank_card": "bank_card"}


@dataclass(frozen=True)
class Link:
    kind: str
    key: str  # blind index
    label: str = ""  # masked


@dataclass(frozen=True)
class Linked:
    """The customer's node after linking, with its component's customers and blacklisted nodes."""

    node: GraphNode
    customers: int
    blacklisted: int


def link_customer(customer_id: uuid.UUID | str, links: list[Link], listed: set[tuple[str, str]]) -> Linked:
    """Add the customer and its identifiers to the graph; returns the customer's node and its component's counts.

    ``listed`` are the (kind, blind index) pairs among ``links`` on an active blacklist (the caller has looked
    them up): new identifier nodes take their flag from it. Set-based: a customer already linked to all its
    identifiers costs one query (the nodes, each with whether the customer's edge exists and its component's
    counts); new nodes and edges are bulk inserts, and merging components is one relabelling update.
    """
    wanted = {(link.kind, link.key): link.label for link in links if link.key}
    wanted[("customer", str(customer_id))] = ""
    match = Q()
    for kind, key in wanted:
        match |= Q(kind=kind, key=key)
    edge = GraphEdge.objects.filter(entity=OuterRef("pk"), customer__kind="customer", customer__key=str(customer_id))
    known = GraphNode.objects.filter(match).annotate(
        linked=Exists(edge),
        component_size=_component_count(Q()),
        component_customers=_component_count(Q(kind="customer")),
        component_blacklisted=_component_count(Q(blacklisted=True)),
    )
    nodes = {(n.kind, n.key): n for n in known}
    missing = [pair for pair in wanted if pair not in nodes]
    if missing:
        GraphNode.objects.bulk_create(
            [GraphNode(kind=k, key=key, label=wanted[(k, key)], component=new_id(),
                       blacklisted=k in BLACKLIST_TO_NODE and (k, key) in listed) for k, key in missing],
            ignore_conflicts=True,
        )  # fmt: skip
        nodes = {(n.kind, n.key): n for n in known.all()}
    customer = nodes[("customer", str(customer_id))]
    new_edges = [GraphEdge(customer=customer, entity=n) for pair, n in nodes.items() if pair[0] != "customer" and not n.linked]
    if new_edges:
        GraphEdge.objects.bulk_create(new_edges, ignore_conflicts=True)
    counts = {n.component: n for n in nodes.values()}  # one node per component carries that component's counts
    if len(counts) > 1:
        keep = max(counts, key=lambda c: (counts[c].component_size, str(c)))
        GraphNode.objects.filter(component__in=set(counts) - {keep}).update(component=keep)
        customer.component = keep
    return Linked(customer, sum(n.component_customers for n in counts.values()), sum(n.component_blacklisted for n in counts.values()))


def _component_count(which: Q) -> Coalesce:
    """The number of nodes matching ``which`` in the outer node's component (a correlated scalar subquery)."""
    rows = GraphNode.objects.filter(which, component=OuterRef("component")).order_by().values("component")
    return Coalesce(Subquery(rows.annotate(n=Count("id")).values("n"), output_field=IntegerField()), 0)


def mark_blacklisted(kind: str, key: str, flag: bool = True) -> None:
    node_kind = BLACKLIST_TO_NODE.get(kind)
    if node_kind:
        GraphNode.objects.filter(kind=node_kind, key=key).update(blacklisted=flag)


def distance_to_blacklisted(
    node: GraphNode, max_hops: int = 4, max_nodes: int = 5000, component_has_blacklisted: bool = True
) -> int | None:
    """Hops from ``node`` to the nearest blacklisted node (customer → phone → customer is 2), or None.

    Breadth-first, one query per hop (neighbours with their blacklist flag); skipped entirely when the
    component holds no blacklisted node.
    """
    if node.blacklisted:
        return 0
    if not component_has_blacklisted:
        return None
    seen = {node.pk}
    frontier = [node.pk]
    frontier_is_customer = node.kind == "customer"
    for hop in range(1, max_hops + 1):
        if frontier_is_customer:
            rows = GraphEdge.objects.filter(customer_id__in=frontier).values_list("entity_id", "entity__blacklisted")
        else:
            rows = GraphEdge.objects.filter(entity_id__in=frontier).values_list("customer_id", "customer__blacklisted")
        nxt = {}
        for pk, listed in rows:
            if pk not in seen:
                nxt[pk] = listed
        if not nxt:
            return None
        if any(nxt.values()):
            return hop
        seen |= set(nxt)
        if len(seen) > max_nodes:
            return None
        frontier = list(nxt)
        frontier_is_customer = not frontier_is_customer
    return None


@dataclass(frozen=True)
class RingGraph:
    """A ring drawn: its nodes (customers by user id, identifiers by masked label) and customer → identifier edges."""

    nodes: list[dict[str, object]]
    edges: list[tuple[str, str]]
    truncated: bool


def ring_graph(component: uuid.UUID, max_nodes: int = 150) -> RingGraph:
    """One component's nodes and edges for drawing, at most ``max_nodes`` nodes: the identifiers shared by most
    customers first (up to half), then their customers. Three queries."""
    customers_of = GraphEdge.objects.filter(entity=OuterRef("pk")).order_by().values("entity")
    entities = list(
        GraphNode.objects.filter(component=component).exclude(kind="customer")
        .annotate(n=Coalesce(Subquery(customers_of.annotate(c=Count("id")).values("c"), output_field=IntegerField()), 0))
        .order_by("-n", "kind", "key")[: max(max_nodes // 2, 1)]
    )  # fmt: skip
    rows = list(GraphEdge.objects.filter(entity__in=entities).order_by("customer__key")
                .values_list("customer_id", "customer__key", "customer__blacklisted", "entity_id"))  # fmt: skip
    customers: dict[uuid.UUID, tuple[str, bool]] = {}
    for cid, key, listed, _ in rows:
        if cid not in customers and len(customers) < max_nodes - len(entities):
            customers[cid] = (key, listed)
    nodes: list[dict[str, object]] = [{"id": str(e.pk), "kind": e.kind, "label": e.label, "blacklisted": e.blacklisted}
                                      for e in entities]
    nodes += [{"id": str(cid), "kind": "customer", "customer": key, "blacklisted": listed}
              for cid, (key, listed) in customers.items()]
    edges = [(str(cid), str(eid)) for cid, _, _, eid in rows if cid in customers]
    total = GraphNode.objects.filter(component=component).count()
    return RingGraph(nodes, edges, truncated=total > len(nodes))


@dataclass(frozen=True)
class Ring:
    component: uuid.UUID
    customers: int
    shared_identifiers: list[dict[str, object]]
    blacklisted: int


def rings(min_customers: int = 3, limit: int = 50) -> list[Ring]:
    """Components joining at least ``min_customers`` customers, largest first, with the identifiers they share."""
    rows = (
        GraphNode.objects.filter(kind="customer")
        .values("component")
        .annotate(n=Count("id"))
        .filter(n__gte=min_customers)
        .order_by("-n")[:limit]
    )
    out = []
    for row in rows:
        component = row["component"]
        shared = (
            GraphEdge.objects.filter(entity__component=component)
            .values("entity__kind", "entity__label", "entity__blacklisted")
            .annotate(n=Count("customer"))
            .filter(n__gte=2)
            .order_by("-n")[:20]
        )
        out.append(
            Ring(
                component=component,
                customers=row["n"],
                shared_identifiers=[
                    {"kind": s["entity__kind"], "label": s["entity__label"], "customers": s["n"], "blacklisted": s["entity__blacklisted"]}
                    for s in shared
                ],
                blacklisted=GraphNode.objects.filter(component=component, blacklisted=True).count(),
            )
        )
    return out
