"""Grouped bar chart of retrieval metrics: before (grey) and after (blue) adaptation."""

from __future__ import annotations

from typing import Mapping, Optional

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import QWidget

from desktop.i18n import tr

CHART_KEYS = ("recall@1", "recall@5", "recall@10", "mrr", "ndcg@10", "map")


def split_metrics(metrics: Mapping) -> tuple[dict[str, float], dict[str, float]]:
    """PackInfo.metrics -> (before, after). Accepts flat metrics, or 'before'/'baseline' and 'after'."""
    def numeric(d: object) -> dict[str, float]:
        return {k: float(v) for k, v in (d or {}).items() if isinstance(v, (int, float))} \
            if isinstance(d, Mapping) else {}
    before = numeric(metrics.get("before") or metrics.get("baseline"))
    after = numeric(metrics.get("after")) or numeric(metrics)
    return before, after


class MetricsChartView(QWidget):
    def __init__(self) -> None:
        super().__init__()
        self.setMinimumHeight(200)
        self.before: dict[str, float] = {}
        self.after: dict[str, float] = {}

    def set_metrics(self, before: Optional[Mapping[str, float]], after: Mapping[str, float]) -> None:
        self.before, self.after = dict(before or {}), dict(after)
        self.update()

    def keys(self) -> list[str]:
        present = [k for k in CHART_KEYS if k in self.after or k in self.before]
        return present or sorted(self.after)[:6]

    def paintEvent(self, event) -> None:  # noqa: ANN001
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        text_color = self.palette().text().color()
        keys = self.keys()
        fm = painter.fontMetrics()
        if not keys:
            painter.setPen(text_color)
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, tr("No evaluation yet"))
            return
        legend_h, label_h = fm.height() + 6, fm.height() + 4
        plot = QRectF(8, legend_h, self.width() - 16, self.height() - legend_h - 2 * label_h)
        group_w = plot.width() / len(keys)
        bar_w = group_w * 0.35
        series = [(self.before, QColor("#9aa5b1"), tr("Before")), (self.after, QColor("#1f77b4"), tr("After"))]
        if not self.before:
            series = [(self.after, QColor("#1f77b4"), tr("Current model"))]
        x = 8.0
        for _, color, name in series:
            painter.fillRect(QRectF(x, 3, 12, 12), color)
            painter.setPen(text_color)
            painter.drawText(QRectF(x + 16, 0, 160, legend_h), Qt.AlignmentFlag.AlignVCenter, name)
            x += 40 + fm.horizontalAdvance(name)
        for i, key in enumerate(keys):
            gx = plot.x() + i * group_w + (group_w - bar_w * len(series)) / 2
            for j, (values, color, _) in enumerate(series):
                value = max(0.0, min(1.0, values.get(key, 0.0)))
                bar = QRectF(gx + j * bar_w, plot.bottom() - plot.height() * value, bar_w - 2,
                             plot.height() * value)
                painter.fillRect(bar, color)
                painter.setPen(text_color)
                painter.drawText(QRectF(bar.x() - 10, bar.y() - label_h, bar_w + 20, label_h),
                                 Qt.AlignmentFlag.AlignCenter, f"{values.get(key, 0.0):.2f}")
            painter.drawText(QRectF(plot.x() + i * group_w, plot.bottom() + 2, group_w, label_h),
                             Qt.AlignmentFlag.AlignCenter, key)
