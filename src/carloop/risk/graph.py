"""Entity graph: customers linked through phones, ID numbers, devices, bank cards, addresses and contacts.

Connected components are maintained incrementally: linking a customer to an identifier merges the two
components by relabelling the smaller one. ``distance_to_blacklisted`` runs a bounded breadth-first search
with one query per hop.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.db.models import Count

from carloop.core.ids import new_id
from carloop.risk.models import GraphEdge, GraphNode
from carloop.risk.selectors import is_blacklisted_index

ENTITY_KINDS = ("phone", "id_number", "device", "bank_card", "address")
BLACKLIST_TO_NODE = {"id_number": "id_number", "phone": "phone", "device": "device", "bank_card": "bank_card"}


@dataclass(frozen=True)
class Link:
    kind: str
    key: str  # blind index
    label: str = ""  # masked


def _node(kind: str, key: str, label: str = "") -> GraphNode:
    node = GraphNode.objects.filter(kind=kind, key=key).first()
    if node is None:
        listed = kind in BLACKLIST_TO_NODE and is_blacklisted_index(kind, key)
        node, _ = GraphNode.objects.get_or_create(
            kind=kind, key=key, defaults={"label": label, "component": new_id(), "blacklisted": listed}
        )
    return node


def _merge(a: uuid.UUID, b: uuid.UUID) -> uuid.UUID:
    if a == b:
        return a
    size_a = GraphNode.objects.filter(component=a).count()
    size_b = GraphNode.objects.filter(component=b).count()
    keep, drop = (a, b) if size_a >= size_b else (b, a)
    GraphNode.objects.filter(component=drop).update(component=keep)
    return keep


def link_customer(customer_id: uuid.UUID | str, links: list[Link]) -> GraphNode:
    """Add the customer and its identifiers to the graph; returns the customer's node (with its component)."""
    customer = _node("customer", str(customer_id))
    component = customer.component
    for link in links:
        if not link.key:
            continue
        entity = _node(link.kind, link.key, link.label)
        GraphEdge.objects.get_or_create(customer=customer, entity=entity)
        component = _merge(component, entity.component)
    customer.component = component
    return customer


def mark_blacklisted(kind: str, key: str, flag: bool = True) -> None:
    node_kind = BLACKLIST_TO_NODE.get(kind)
    if node_kind:
        GraphNode.objects.filter(kind=node_kind, key=key).update(blacklisted=flag)


def distance_to_blacklisted(node: GraphNode, max_hops: int = 4, max_nodes: int = 5000) -> int | None:
    """Hops from ``node`` to the nearest blacklisted node (customer → phone → customer is 2), or None."""
    if node.blacklisted:
        return 0
    seen = {node.pk}
    frontier = [node.pk]
    frontier_is_customer = node.kind == "customer"
    for hop in range(1, max_hops + 1):
        if frontier_is_customer:
            nxt = set(GraphEdge.objects.filter(customer_id__in=frontier).values_list("entity_id", flat=True))
        else:
            nxt = set(GraphEdge.objects.filter(entity_id__in=frontier).values_list("customer_id", flat=True))
        nxt -= seen
        if not nxt:
            return None
        if GraphNode.objects.filter(pk__in=nxt, blacklisted=True).exists():
            return hop
        seen |= nxt
        if len(seen) > max_nodes:
            return None
        frontier = list(nxt)
        frontier_is_customer = not frontier_is_customer
    return None


def component_customers(component: uuid.UUID) -> int:
    return GraphNode.objects.filter(component=component, kind="customer").count()


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
