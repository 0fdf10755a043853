"""Writes latest.json, latest.md (the table) and latest.png (each ratio against its target)."""

from __future__ import annotations

import importlib.metadata
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

from bench.results import Row

PACKAGES = (
    "django",
    "channels",
    "channels-redis",
    "daphne",
    "uvicorn",
    "python-socketio",
    "websockets",
    "psycopg",
)


def _versions() -> dict[str, str]:
    found = {}
    for name in PACKAGES:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def write(
    out: Path, mode: str, started: float, scenarios: dict[str, Row], name: str = "latest"
) -> list[Path]:
    """`<name>.json`, `<name>.md` and `<name>.png` in `out`."""
    out.mkdir(parents=True, exist_ok=True)
    document: dict[str, Any] = {
        "mode": mode,
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "duration_s": round(time.time() - started, 1),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "system": platform.platform(),
        },
        "versions": _versions(),
        "scenarios": scenarios,
    }
    paths = [out / f"{name}.json", out / f"{name}.md"]
    paths[0].write_text(json.dumps(document, indent=2, sort_keys=False) + "\n")
    header = (
        f"Mode `{mode}`, {document['started_at']}, {document['duration_s']} s, {os.cpu_count()} cores.\n\n"
    )
    paths[1].write_text(header + markdown_table(scenarios) + "\n")
    chart = out / f"{name}.png"
    if draw_chart(chart, scenarios):
        paths.append(chart)
    return paths


def _figure(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:g}" if isinstance(value, float) else str(value)


def _target(row: Row) -> str:
    if row["target"] is None:
        return "-"
    sign = (">=" if row["better"] == "higher" else "<=") if row["target_on"] == "ratio" else "<"
    subject = "ratio" if row["target_on"] == "ratio" else "value"
    return f"{subject} {sign} {_figure(row['target'])}"


def markdown_table(scenarios: dict[str, Row]) -> str:
    lines = [
        "| scenario | value | baseline | ratio | target | met |",
        "|---|---:|---:|---:|---|---|",
    ]
    for name, row in scenarios.items():
        met = {True: "yes", False: "**no**", None: "-"}[row["met"]]
        if "skipped" in row:
            met = f"skipped: {row['skipped']}"
        unit = row["unit"]
        lines.append(
            f"| `{name}` | {_figure(row['value'])} {unit} | {_figure(row['baseline'])} {unit} | "
            f"{_figure(row['ratio'])} | {_target(row)} | {met} |"
        )
    return "\n".join(lines)


def draw_chart(path: Path, scenarios: dict[str, Row]) -> bool:
    """Each row with a ratio: the ratio on a log scale, its target marked; False without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    rows = [(name, row) for name, row in scenarios.items() if row.get("ratio")]
    if not rows:
        return False
    height = 0.32 * len(rows) + 1.5
    figure, axes = plt.subplots(figsize=(10, height))
    names = [name for name, _ in rows]
    ratios = [row["ratio"] for _, row in rows]
    colours = [{True: "#2e7d32", False: "#c62828", None: "#78909c"}[row["met"]] for _, row in rows]
    axes.barh(names, ratios, color=colours)
    for index, (_, row) in enumerate(rows):
        if row["target"] is not None and row["target_on"] == "ratio":
            axes.plot([row["target"]] * 2, [index - 0.4, index + 0.4], color="black", linewidth=2)
        label = f" {row['ratio']:g}"
        if row["target"] is not None and row["target_on"] == "value":
            label += f"  ({_figure(row['value'])} {row['unit']}, target < {_figure(row['target'])})"
        axes.text(row["ratio"], index, label, va="center", fontsize=8)
    axes.axvline(1.0, color="#555555", linestyle=":", linewidth=1)
    axes.set_xscale("log")
    axes.invert_yaxis()
    axes.set_xlabel(
        "value / baseline (log); black tick = target on the ratio; green met, red missed, grey no target"
    )
    axes.set_title("WhatsApp Hub against bare baselines (same run)")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return True
