"""Loading a tabular training set from CSV, with validation.

The loader is strict about structure (header, consistent field counts, a usable target) and lenient about
content: numeric and categorical columns are inferred, missing values are kept as NaN for the binning to
place into its own bin.
"""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

MISSING_TOKENS = ["", "NA", "N/A", "NaN", "nan", "null", "NULL", "None", "?"]


class DataError(ValueError):
    """Bad training or scoring data; carries a bilingual message."""

    def __init__(self, slug: str, zh: str, en: str) -> None:
        super().__init__(en)
        self.slug = slug
        self.zh = zh
        self.en = en


@dataclass
class Dataset:
    """Features, binary target (1 = bad) and the provenance of a training set."""

    x: pd.DataFrame
    y: np.ndarray
    target: str
    bad_value: str
    numeric: list[str]
    categorical: list[str]
    sha256: str
    labels: dict[str, tuple[str, str]] = field(default_factory=dict)

    @property
    def features(self) -> list[str]:
        return list(self.x.columns)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 16), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _looks_numeric(name: str) -> bool:
    try:
        float(name)
    except ValueError:
        return False
    return True


def _read_frame(text: str) -> pd.DataFrame:
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        raise DataError("empty-csv", "CSV 文件为空。", "The CSV file is empty.")
    try:
        header = next(csv.reader([lines[0]]))
    except csv.Error as exc:
        raise DataError("malformed-csv", f"CSV 表头无法解析：{exc}", f"Cannot parse the CSV header: {exc}") from exc
    header = [h.strip() for h in header]
    if any(not h for h in header):
        raise DataError("malformed-csv", "CSV 表头含有空列名。", "The CSV header has an empty column name.")
    if len(set(header)) != len(header):
        raise DataError("malformed-csv", "CSV 表头含有重复列名。", "The CSV header has duplicate column names.")
    if all(_looks_numeric(h) for h in header):
        raise DataError(
            "missing-header",
            "CSV 必须有表头行（第一行看起来是数据）。",
            "The CSV needs a header row (the first line looks like data).",
        )
    try:
        for lineno, row in enumerate(csv.reader(io.StringIO(text)), start=1):
            if row and len(row) != len(header):
                raise DataError(
                    "malformed-csv",
                    f"CSV 第 {lineno} 行有 {len(row)} 个字段，表头有 {len(header)} 个。",
                    f"CSV line {lineno} has {len(row)} fields, the header has {len(header)}.",
                )
    except csv.Error as exc:
        raise DataError("malformed-csv", f"CSV 格式错误：{exc}", f"Malformed CSV: {exc}") from exc
    try:
        frame = pd.read_csv(
            io.StringIO(text),
            dtype=str,
            keep_default_na=False,
            na_values=MISSING_TOKENS,
            skipinitialspace=True,
            skip_blank_lines=True,
        )
    except (pd.errors.ParserError, csv.Error, UnicodeDecodeError) as exc:
        raise DataError("malformed-csv", f"CSV 格式错误：{exc}", f"Malformed CSV: {exc}") from exc
    frame.columns = [str(c).strip() for c in frame.columns]
    if len(frame) == 0:
        raise DataError("empty-csv", "CSV 只有表头，没有数据行。", "The CSV has a header but no data rows.")
    return frame


def _decode(raw: bytes) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise DataError("malformed-csv", "CSV 编码无法识别（需要 UTF-8 或 GB18030）。", "Unknown CSV encoding (need UTF-8 or GB18030).")


def split_types(frame: pd.DataFrame) -> tuple[pd.DataFrame, list[str], list[str]]:
    """Convert columns whose non-missing values are all numbers to float; the rest stay strings."""
    numeric: list[str] = []
    categorical: list[str] = []
    out = {}
    for col in frame.columns:
        values = frame[col]
        converted = pd.to_numeric(values, errors="coerce")
        if converted.notna().sum() == values.notna().sum() and values.notna().any():
            out[col] = converted.astype("float64")
            numeric.append(col)
        else:
            out[col] = values.astype("object").where(values.notna(), np.nan)
            categorical.append(col)
    return pd.DataFrame(out, index=frame.index), numeric, categorical


def frame_from_csv(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise DataError("file-not-found", f"找不到文件：{path}", f"File not found: {path}")
    return _read_frame(_decode(path.read_bytes()))


def load_csv(path: str | Path, target: str, bad_value: str | int, *, min_per_class: int = 2) -> Dataset:
    """Read ``path`` and split it into features and a 0/1 target where 1 marks ``bad_value``."""
    path = Path(path)
    frame = frame_from_csv(path)
    if target not in frame.columns:
        raise DataError(
            "unknown-target",
            f"目标列「{target}」不存在；可用列：{', '.join(frame.columns)}",
            f"Unknown target column '{target}'; columns are: {', '.join(frame.columns)}",
        )
    raw_target = frame[target]
    if raw_target.isna().any():
        n = int(raw_target.isna().sum())
        raise DataError("missing-target", f"目标列有 {n} 行缺失值。", f"The target column has {n} missing values.")
    bad = str(bad_value).strip()
    target_values = raw_target.astype(str).str.strip()
    y = (target_values == bad).to_numpy(dtype=np.int8)
    n_bad = int(y.sum())
    n_good = int(len(y) - n_bad)
    if n_bad == 0 or n_good == 0:
        raise DataError(
            "single-class",
            f"目标列只有一个类别（坏样本 {n_bad}，好样本 {n_good}；坏样本值为「{bad}」）。",
            f"The target has a single class ({n_bad} bad, {n_good} good; bad value '{bad}').",
        )
    if min(n_bad, n_good) < min_per_class:
        raise DataError(
            "too-few-rows",
            f"每个类别至少需要 {min_per_class} 行（坏 {n_bad}，好 {n_good}）。",
            f"Each class needs at least {min_per_class} rows ({n_bad} bad, {n_good} good).",
        )
    features = frame.drop(columns=[target])
    if features.shape[1] == 0:
        raise DataError("no-features", "除目标列外没有特征列。", "There are no feature columns besides the target.")
    x, numeric, categorical = split_types(features)
    return Dataset(x=x, y=y, target=target, bad_value=bad, numeric=numeric, categorical=categorical, sha256=sha256_of(path))
