"""PNG plots of a benchmark: latency distributions, per-phase bars, ablation bars."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from igent.bench.analysis import ConfigMetrics
from igent.bench.matrix import PREDICTED_PCT

_PHASES = (
    ("agent_conversation_s", "LLM calls"),
    ("validation_s", "validation"),
    ("capacity_update_s", "capacity update"),
    ("file_write_s", "file write"),
)


def write_plots(metrics: Sequence[ConfigMetrics], out_dir: Path) -> list[Path]:
    """Write latency.png, phases.png and ablation.png into ``out_dir``; return their paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    names = [m.config.name for m in metrics]
    paths: list[Path] = []
    height = max(3.0, 0.45 * len(metrics) + 1.5)

    fig, ax = plt.subplots(figsize=(max(6.0, 0.9 * len(metrics) + 2), 5))
    positions = list(range(1, len(metrics) + 1))
    # Vertical boxes and set_xticks work the same on every matplotlib >= 3.5.
    ax.boxplot(
        [[max(v * 1000, 1e-3) for v in m.latencies] or [1e-3] for m in metrics],
        positions=positions,
    )
    ax.set_xticks(positions, names, rotation=30, ha="right")
    ax.set_yscale("log")
    ax.set_ylabel("latency per registration, ms (log scale)")
    ax.set_title("Per-registration latency (total_s)")
    fig.tight_layout()
    paths.append(out_dir / "latency.png")
    fig.savefig(paths[-1], dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(9, height))
    left = [0.0] * len(metrics)
    for column, label in _PHASES:
        values = [m.phase_median_s[column] * 1000 for m in metrics]
        ax.barh(names, values, left=left, label=label)
        left = [a + b for a, b in zip(left, values, strict=True)]
    other = [
        max(
            0.0,
            m.phase_median_s["total_s"] * 1000
            - sum(m.phase_median_s[c] * 1000 for c, _ in _PHASES[:3]),
        )
        for m in metrics
    ]
    ax.barh(names, other, left=left, label="other (orchestration)")
    ax.set_xlabel("median per registration, ms (each part's own median)")
    ax.set_title("Where a registration's time goes")
    ax.invert_yaxis()
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    paths.append(out_dir / "phases.png")
    fig.savefig(paths[-1], dpi=110)
    plt.close(fig)

    rows = [m for m in metrics if m.improvement_pct is not None and m.config.name != "baseline"]
    fig, ax = plt.subplots(figsize=(9, max(3.0, 0.45 * len(rows) + 1.5)))
    labels = [m.config.name for m in rows]
    measured = [m.improvement_pct or 0.0 for m in rows]
    positions = list(range(len(rows)))
    ax.barh([p - 0.2 for p in positions], measured, height=0.4, color="tab:blue", label="measured")
    for position, m in zip(positions, rows, strict=True):
        predicted = PREDICTED_PCT.get(m.config.name)
        if predicted is not None:
            low, high = predicted
            ax.barh(position + 0.2, high - low, left=low, height=0.4, color="tab:orange")
    from matplotlib.patches import Patch

    handles, _ = ax.get_legend_handles_labels()
    handles.append(Patch(color="tab:orange", label="plan's prediction (range)"))
    ax.set_yticks(positions, labels)
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_xlabel("p50 improvement over the baseline, %")
    ax.set_title("Ablation: measured vs predicted")
    ax.invert_yaxis()
    ax.legend(handles=handles, loc="lower right", fontsize=8)
    fig.tight_layout()
    paths.append(out_dir / "ablation.png")
    fig.savefig(paths[-1], dpi=110)
    plt.close(fig)
    return paths
