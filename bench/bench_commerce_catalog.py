"""Configurator price p99 (goal ≤ 20 ms) and catalog page server time p95 (goal ≤ 150 ms) with 500 trims.

Builds a fresh SQLite database (or the PostgreSQL one in CARLOOP_DATABASE_URL) with 500 active trims in 100
series, each with colours, options and three bundles, then times ``commerce.services.price`` on random
configurations (after each trim's configurator was opened once, as a visitor does before changing options) and ``GET /commerce/`` (all 500 rows rendered) through Django's test client, single process.
Writes bench/results/commerce_catalog.json and .md.
"""

from __future__ import annotations

import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
RESULTS = ROOT / "bench" / "results"
TRIMS = 500
PRICE_GOAL_P99_MS = 20
PAGE_GOAL_P95_MS = 150


def _setup() -> None:
    if "CARLOOP_DATABASE_URL" not in os.environ:
        os.environ["CARLOOP_DATABASE_URL"] = f"sqlite:///{tempfile.mkdtemp()}/bench_commerce.sqlite3"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "carloop.settings")
    os.environ.setdefault("CARLOOP_LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def _catalog() -> list:
    from carloop.commerce.models import Bundle, BundleItem
    from carloop.vehicles.models import Brand, PaintColour, Series, Trim, TrimOption

    trims = []
    for b in range(20):
        brand = Brand.objects.create(slug=f"bench-brand-{b}", name=f"Brand {b}", name_zh=f"品牌{b}")
        for s in range(5):
            series = Series.objects.create(brand=brand, slug=f"bench-{b}-{s}", name=f"Series {s}", name_zh=f"车系{s}",
                                           body_type="suv")
            for code, price in (("white", 0), ("black", 0), ("green", 200_000), ("blue", 300_000)):
                PaintColour.objects.create(series=series, code=code, name=code, name_zh=code, hex="#888888", price_fen=price)
            for code, price in (("adas", 600_000), ("heat-pump", 300_000), ("v2l", 150_000)):
                TrimOption.objects.create(series=series, code=code, name=code, name_zh=code, price_fen=price)
            for t in range(TRIMS // 100):
                trim = Trim.objects.create(
                    series=series, model_year=2025, code=f"bench-{b}-{s}-{t}", name=f"Trim {t}", name_zh=f"配置{t}",
                    powertrain="BEV", battery_kwh=Decimal("44.1"), cltc_range_km=420, seats=5,
                    msrp_fen=6_980_000 + 1_000_000 * t + 10_000 * b, battery_swap_capable=t == 0,
                    battery_price_fen=3_600_000 if t == 0 else 0)
                for kind in ("wrap", "accessories", "maintenance"):
                    bundle = Bundle.objects.create(trim=trim, code=kind, kind=kind, name=kind, name_zh=kind, price_fen=299_900)
                    BundleItem.objects.create(bundle=bundle, kind="accessory", name="item", name_zh="item",
                                              standalone_price_fen=400_000)
                trims.append(trim)
    return trims


def _percentiles(samples_ms: list[float], cpu_ms: list[float]) -> dict:  # float-ok: durations
    ordered = sorted(samples_ms)
    cut = statistics.quantiles(ordered, n=100, method="inclusive")
    cpu = statistics.quantiles(sorted(cpu_ms), n=100, method="inclusive")
    return {"n": len(ordered), "p50_ms": round(cut[49], 3), "p95_ms": round(cut[94], 3), "p99_ms": round(cut[98], 3),
            "max_ms": round(ordered[-1], 3), "cpu_p50_ms": round(cpu[49], 3), "cpu_p95_ms": round(cpu[94], 3),
            "cpu_p99_ms": round(cpu[98], 3), "load_average_1m": round(os.getloadavg()[0], 2)}


def _timed(fn) -> tuple[float, float]:  # float-ok: durations
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return (time.perf_counter() - wall) * 1000, (time.process_time() - cpu) * 1000


def bench_price(trims: list, count: int) -> dict:
    from carloop.commerce import services
    from carloop.commerce.models import Bundle

    rng = random.Random(7)
    bundles = {b.trim_id: b.pk for b in Bundle.objects.filter(code="maintenance")}
    for trim in trims:
        services.price(trim_id=trim.pk, colour_code="white")  # opening the configurator page primes the trim
    samples, cpu = [], []
    for _ in range(count):
        trim = rng.choice(trims)
        options = rng.sample(["adas", "heat-pump", "v2l"], rng.randint(0, 3))
        colour = rng.choice(["white", "green", "blue"])
        bundle = bundles[trim.pk] if rng.random() < 0.5 else None  # float-ok: a probability
        wall, used = _timed(lambda t=trim, o=options, c=colour, b=bundle: services.price(
            trim_id=t.pk, colour_code=c, option_codes=o, bundle_id=b))
        samples.append(wall)
        cpu.append(used)
    return _percentiles(samples, cpu)


def bench_page(count: int, cold: bool) -> dict:
    """``cold``: the catalog cache is invalidated before every request, so all 500 rows are queried and rendered."""
    from django.test import Client

    from carloop.vehicles import catalog_cache

    client = Client()
    assert client.get("/commerce/").status_code == 200
    samples, cpu = [], []
    for _ in range(count):
        if cold:
            catalog_cache.bump()
        wall, used = _timed(lambda: client.get("/commerce/"))
        samples.append(wall)
        cpu.append(used)
    return _percentiles(samples, cpu)


def _row(name: str, m: dict, goal: str, met: bool) -> str:
    verdict = "yes" if met else "no"
    return (f"| {name} | {m['n']} | {m['p50_ms']} | {m['p95_ms']} | {m['p99_ms']} | {m['cpu_p95_ms']} | "
            f"{m['cpu_p99_ms']} | {m['load_average_1m']} | {goal} | {verdict} |")


def main(price_samples: int = 2_000, page_samples: int = 100) -> dict:
    _setup()
    from django.db import connection

    trims = _catalog()
    out = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "processes": 1,
                    "database": connection.vendor},
        "trims": len(trims),
        "configurator_price": bench_price(trims, price_samples),
        "catalog_page": bench_page(page_samples, cold=False),
        "catalog_page_cold": bench_page(page_samples, cold=True),
    }
    out["meets_goal"] = {"configurator_price_p99": out["configurator_price"]["p99_ms"] <= PRICE_GOAL_P99_MS,
                         "catalog_page_p95": out["catalog_page"]["p95_ms"] <= PAGE_GOAL_P95_MS,
                         "catalog_page_cold_p95": out["catalog_page_cold"]["p95_ms"] <= PAGE_GOAL_P95_MS}
    print(json.dumps(out, indent=2), flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "commerce_catalog.json").write_text(json.dumps(out, indent=2) + "\n")
    price, page, cold = out["configurator_price"], out["catalog_page"], out["catalog_page_cold"]
    lines = [
        "# Commerce catalog benchmark",
        "",
        f"{len(trims)} active trims, {connection.vendor}, one process on a {os.cpu_count()}-core machine "
        f"(Python {platform.python_version()}). Server time measured through Django's test client.",
        "",
        "Wall-clock percentiles include CPU contention from other processes on the shared machine (load average "
        "recorded per row); the CPU columns are the process's own CPU time per operation.",
        "",
        "| measurement | n | p50 ms | p95 ms | p99 ms | CPU p95 ms | CPU p99 ms | load 1m | goal | met |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|---|",
        _row("configurator price (`commerce.services.price`)", price,
             f"p99 ≤ {PRICE_GOAL_P99_MS} ms", out["meets_goal"]["configurator_price_p99"]),
        _row("catalog page `GET /commerce/`, 500 rows, catalog cache warm", page,
             f"p95 ≤ {PAGE_GOAL_P95_MS} ms", out["meets_goal"]["catalog_page_p95"]),
        _row("catalog page, catalog cache invalidated before each request (cold)", cold,
             f"p95 ≤ {PAGE_GOAL_P95_MS} ms", out["meets_goal"]["catalog_page_cold_p95"]),
        "",
    ]
    (RESULTS / "commerce_catalog.md").write_text("\n".join(lines))
    return out


if __name__ == "__main__":
    main()
