"""A zoomable, pannable page with outlined boxes and an optional heatmap overlay."""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QImage, QPainter, QPen, QPixmap, QTransform, QWheelEvent
from PySide6.QtWidgets import (QGraphicsPixmapItem, QGraphicsRectItem, QGraphicsScene,
                               QGraphicsView)

from engine.types import Box

BOX_PEN = QColor("#e8590c")
BOX_FILL = QColor(255, 200, 0, 60)
MIN_REGION_SHARE = 0.2  # a region zoomed to shows at least this share of the page's width


def heatmap_image(values: np.ndarray) -> QImage:
    """(h, w) scores -> a translucent red RGBA image of the same grid size."""
    grid = np.asarray(values, dtype=np.float32)  # (h, w)
    span = float(grid.max() - grid.min()) or 1.0
    norm = (grid - grid.min()) / span  # (h, w) in 0..1
    rgba = np.zeros(grid.shape + (4,), dtype=np.uint8)  # (h, w, 4)
    rgba[..., 0] = 230
    rgba[..., 1] = (80 * (1 - norm)).astype(np.uint8)
    rgba[..., 3] = (170 * norm).astype(np.uint8)
    h, w = grid.shape
    return QImage(rgba.tobytes(), w, h, w * 4, QImage.Format.Format_RGBA8888).copy()


class PageView(QGraphicsView):
    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("PageView")
        self._scene = QGraphicsScene(self)
        self.setScene(self._scene)
        self.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.SmoothPixmapTransform)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)  # pan by dragging: no scroll bars,
        # which also keeps a zoomed fit stable (bars coming and going resized the view, and each
        # resize fitted again: an endless loop at large fonts)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setBackgroundBrush(QColor("#d9dde3"))
        self._page: Optional[QGraphicsPixmapItem] = None
        self._boxes: list[QGraphicsRectItem] = []
        self._heat: Optional[QGraphicsPixmapItem] = None
        self._fit = True
        self.region = -1  # the box zoomed to (focus_region), -1: the whole page

    # content ----------------------------------------------------------------------------------
    def clear_page(self) -> None:
        self._scene.clear()
        self._page, self._heat, self._boxes = None, None, []

    def set_page(self, image: QImage, boxes: Sequence[Box] = (), *, zoom_to_first: bool = False,
                 turn: int = 0) -> None:
        """Show the page with `boxes` outlined; `zoom_to_first`: start on the first box, large
        enough to read from a distance (a box is 10-20 px on a whole-page preview). `turn`:
        degrees clockwise the view shows it turned by (a sideways scan upright); the boxes and
        the heatmap, given over the page as it lies, turn with it."""
        self.clear_page()
        self.setTransform(QTransform().rotate(turn % 360))
        self._page = self._scene.addPixmap(QPixmap.fromImage(image))
        self._page.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        self._scene.setSceneRect(QRectF(0, 0, image.width(), image.height()))
        self.set_boxes(boxes)
        if zoom_to_first and self._boxes:
            self.focus_region(0)
        else:
            self.fit()

    def set_boxes(self, boxes: Sequence[Box]) -> None:
        for item in self._boxes:
            self._scene.removeItem(item)
        self._boxes = []
        if self._page is None:
            return
        w, h = self._page.pixmap().width(), self._page.pixmap().height()
        pen = QPen(BOX_PEN, 3)
        pen.setCosmetic(True)  # same width at every zoom
        for box in boxes:
            rect = QRectF(box.x0 * w, box.y0 * h, (box.x1 - box.x0) * w, (box.y1 - box.y0) * h)
            item = self._scene.addRect(rect.adjusted(-3, -3, 3, 3), pen, QBrush(BOX_FILL))
            item.setZValue(2)
            self._boxes.append(item)

    def box_rects(self) -> list[QRectF]:
        return [item.rect() for item in self._boxes]

    def region_count(self) -> int:
        return len(self._boxes)

    def focus_region(self, index: int) -> None:
        """Zoom to box `index` (wrapping around) with some of the drawing around it: at least a
        fifth of the page's width, so a title-block cell is read together with its label."""
        if not self._boxes or self._page is None:
            return
        self.region = index % len(self._boxes)
        for i, item in enumerate(self._boxes):
            pen = item.pen()
            pen.setWidth(5 if i == self.region else 3)
            item.setPen(pen)
        rect = self._boxes[self.region].rect()
        page = self._scene.sceneRect()
        view = self.viewport().rect()
        aspect = view.width() / max(1, view.height())
        width = max(rect.width() * 1.6, page.width() * MIN_REGION_SHARE)
        height = max(rect.height() * 1.6, width / aspect)
        width = max(width, height * aspect)
        area = QRectF(rect.center().x() - width / 2, rect.center().y() - height / 2, width, height)
        self._fit = False
        self.fitInView(area, Qt.AspectRatioMode.KeepAspectRatio)
        self.centerOn(rect.center())

    def step_region(self, step: int) -> None:
        """The next (+1) or previous (-1) outlined region."""
        self.focus_region((self.region if self.region >= 0 else -1 if step > 0 else 0) + step)

    def set_heatmap(self, values: Optional[np.ndarray]) -> None:
        if self._heat is not None:
            self._scene.removeItem(self._heat)
            self._heat = None
        if values is None or self._page is None:
            return
        page = self._page.pixmap()
        scaled = QPixmap.fromImage(heatmap_image(values)).scaled(
            page.width(), page.height(), Qt.AspectRatioMode.IgnoreAspectRatio,
            Qt.TransformationMode.SmoothTransformation)
        self._heat = self._scene.addPixmap(scaled)
        self._heat.setZValue(1)

    def set_heatmap_visible(self, visible: bool) -> None:
        if self._heat is not None:
            self._heat.setVisible(visible)

    def has_page(self) -> bool:
        return self._page is not None

    # zoom and pan -----------------------------------------------------------------------------
    def zoom(self, factor: float) -> None:
        self._fit = False
        self.scale(factor, factor)

    def fit(self) -> None:
        self._fit = True
        self.region = -1
        if self._page is not None:
            self.fitInView(self._scene.sceneRect(), Qt.AspectRatioMode.KeepAspectRatio)

    def wheelEvent(self, event: QWheelEvent) -> None:
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            self.zoom(1.25 if event.angleDelta().y() > 0 else 0.8)
        else:
            super().wheelEvent(event)

    def resizeEvent(self, event) -> None:  # noqa: ANN001
        super().resizeEvent(event)
        if self.region >= 0:
            self.focus_region(self.region)
        elif self._fit:
            self.fit()
