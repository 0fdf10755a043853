"""Result rows: what each scenario measures, against which baseline, and the target it must meet.

A row is `{"value", "unit", "baseline", "ratio", "target", "target_on", "better", "met"}` plus
`details` (the other figures) or `skipped` (why it was not measured). `ratio` is value over baseline;
`target` bounds the ratio, or the value itself when `target_on` is "value" (latency, replay time).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

Better = Literal["higher", "lower"]
Row = dict[str, Any]


@dataclass(frozen=True)
class RowSpec:
    unit: str
    better: Better
    target: float | None = None
    target_on: Literal["ratio", "value"] = "ratio"
    title: str = ""

    def blank(self) -> Row:
        return {
            "value": None,
            "unit": self.unit,
            "baseline": None,
            "ratio": None,
            "target": self.target,
            "target_on": self.target_on,
            "better": self.better,
            "met": None,
            "title": self.title,
        }

    def measured(self, value: float | None, baseline: float | None, **details: Any) -> Row:
        row = self.blank()
        ratio = value / baseline if value is not None and baseline else None
        row.update(value=_round(value), baseline=_round(baseline), ratio=_round(ratio), details=details)
        if self.target is not None:
            subject = ratio if self.target_on == "ratio" else value
            if subject is None:
                row["met"] = False
            elif self.better == "higher":
                row["met"] = subject >= self.target
            else:
                row["met"] = subject <= self.target if self.target_on == "ratio" else subject < self.target
        return row

    def skipped(self, reason: str) -> Row:
        return self.blank() | {"skipped": reason}


def _round(value: float | None) -> float | None:
    if value is None or math.isnan(value):
        return None
    return round(value, 3 if abs(value) < 10 else 1)


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100); None for no samples."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def latency_ms(values: list[float]) -> dict[str, float | int | None]:
    return {
        "p50_ms": _round(percentile(values, 50)),
        "p99_ms": _round(percentile(values, 99)),
        "max_ms": _round(max(values, default=math.nan)),
        "samples": len(values),
    }
