"""The platform scorecard: synthetic labelled snapshots shaped like the feature store, and a built-in model.

Until real outcomes exist, the champion is trained on synthetic snapshots whose relationships follow the
seed documents (thin files are common, repayment history and behaviour dominate). The trained scorecard ships
in ``builtin_model/`` (``carloop risk builtin`` retrains it with ``write_builtin``); ``builtin()`` loads it, and
decisions use it whenever no champion is registered, so that a fresh installation can decide. The demo seed
registers the same directory as the champion.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd

from carloop.risk.features import FEATURE_LABELS, MODEL_FEATURES
from carloop.risk.modeling.artifacts import LoadedModel, load, train
from carloop.risk.modeling.data import Dataset
from carloop.risk.modeling.metrics import CostMatrix

BUILTIN_VERSION = "scorecard-builtin-1"


def synthetic_frame(n: int = 4000, seed: int = 11) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    z = rng.normal(0, 1, n)  # latent riskiness
    thin = rng.uniform(0, 1, n) < 0.3
    age = rng.integers(20, 64, n)
    tenure = np.minimum(rng.exponential(500, n) * np.exp(-0.2 * z), 3000).astype(int)
    orders_365 = np.where(thin, 0, rng.poisson(4 * np.exp(-0.25 * z)))
    orders_90 = rng.binomial(orders_365, 0.3)
    basket = rng.lognormal(6.6, 0.6, n)
    amount_365 = (orders_365 * basket).astype(int)
    returns = rng.binomial(orders_365, np.clip(0.04 + 0.05 * (z > 1), 0, 1))
    has_credit = ~thin & (rng.uniform(0, 1, n) < 0.6)
    late_p = 1 / (1 + np.exp(-(z - 1.2) * 1.8))
    max_dpd = np.where(rng.uniform(0, 1, n) < late_p, rng.choice([5, 15, 35, 65, 100], n), 0)
    on_time = np.clip(100 - max_dpd * rng.uniform(0.1, 0.6, n), 0, 100).astype(int)
    loans = np.where(has_credit, rng.poisson(0.6 + 0.3 * (z > 0.5)), 0)
    card = np.where(rng.uniform(0, 1, n) < 0.4, rng.lognormal(6, 0.8, n), 0).astype(int)
    services = rng.poisson(np.where(thin, 0.3, 1.6 * np.exp(-0.3 * z)))
    vehicle = np.where(rng.uniform(0, 1, n) < 0.55, rng.lognormal(11.6, 0.5, n), np.nan)
    devices = 1 + rng.poisson(0.2 + 0.8 * (z > 1.5))
    cities = 1 + rng.poisson(0.2 + 0.6 * (z > 1.5))
    amount = np.round(rng.lognormal(11.0, 0.6, n), -2).astype(int)
    term = rng.choice([12, 24, 36, 48, 60], n)
    dti = np.clip(rng.normal(32 + 6 * z, 12), 3, 90).astype(int)
    logit = (
        -2.7 + 0.7 * z + 0.035 * (dti - 32) - 0.015 * (age - 40) + 0.3 * thin + 0.025 * np.where(has_credit, max_dpd, 0)
        + 0.35 * (returns > 1) + 0.4 * (devices > 2) - 0.15 * np.minimum(services, 4) - 0.2 * (orders_365 > 6)
    )  # fmt: skip
    bad = rng.uniform(0, 1, n) < 1 / (1 + np.exp(-logit))
    frame = pd.DataFrame(
        {
            "age": age,
            "tenure_days": tenure,
            "orders_90d": orders_90,
            "orders_365d": orders_365,
            "order_amount_365d_yuan": amount_365,
            "avg_basket_yuan": np.where(orders_365 > 0, amount_365 // np.maximum(orders_365, 1), np.nan),
            "return_rate_365d": np.where(orders_365 > 0, 100 * returns // np.maximum(orders_365, 1), np.nan),
            "on_time_ratio": np.where(has_credit, on_time, np.nan),
            "max_dpd_365d": np.where(has_credit, max_dpd, np.nan),
            "loans_active": loans,
            "card_spend_90d_yuan": card,
            "services_365d": services,
            "vehicle_value_yuan": vehicle,
            "devices_30d": devices,
            "login_cities_90d": cities,
            "amount_yuan": amount,
            "term_months": term,
            "dti_pct": dti,
        }
    )
    frame = frame[MODEL_FEATURES].astype("float64")
    frame["bad"] = np.where(bad, "1", "0")
    return frame


def synthetic_dataset(n: int = 4000, seed: int = 11) -> Dataset:
    frame = synthetic_frame(n, seed)
    x = frame[MODEL_FEATURES]
    y = (frame["bad"] == "1").to_numpy(dtype=np.int8)
    return Dataset(x=x, y=y, target="bad", bad_value="1", numeric=list(MODEL_FEATURES), categorical=[],
                   sha256=f"synthetic-{n}-{seed}", labels=dict(FEATURE_LABELS))  # fmt: skip


def write_training_csv(path: Path, n: int = 4000, seed: int = 11) -> Path:
    synthetic_frame(n, seed).to_csv(path, index=False)
    return path


BUILTIN_DIR = Path(__file__).resolve().parent / "builtin_model"


def write_builtin(out: Path = BUILTIN_DIR) -> Path:
    """Train the platform scorecard on the synthetic snapshots and write it as the shipped default artifact."""
    ds = synthetic_dataset()
    train(ds, "scorecard", out, k=5, repeats=1, costs=CostMatrix(5, 1), inner_k=3)
    meta = json.loads((out / "meta.json").read_text())
    meta.update(version=BUILTIN_VERSION, created_at="builtin")
    (out / "meta.json").write_text(json.dumps(meta, ensure_ascii=False, indent=1))
    return out


@cache
def builtin() -> LoadedModel:
    """The shipped platform scorecard (loading it needs neither optbinning nor training)."""
    return load(BUILTIN_DIR)
