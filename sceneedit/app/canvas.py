"""The scene canvas: shows the current frame scaled smoothly (fit, 1:1 or a zoom factor).

While :attr:`SceneCanvas.comparing` is on it shows the unedited scene instead (the
window's hold-to-compare button and the Space key drive it).

With :meth:`SceneCanvas.set_picking_points` on, a left click emits
:attr:`SceneCanvas.point_clicked` with image pixel coordinates instead of panning, and an
``overlay`` callable may paint over the image (the drag tool's points and arrows).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPalette
from PySide6.QtWidgets import QSizePolicy, QWidget

#: Zoom factors the zoom-in / zoom-out steps walk through.
ZOOM_STEPS = (0.125, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 16.0)


def array_to_qimage(image: np.ndarray) -> QImage:
    """uint8 ``[H, W, 3]`` RGB -> a QImage that owns a copy of the pixels."""
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected a uint8 [H, W, 3] image, got {image.dtype} {list(image.shape)}")
    data = np.ascontiguousarray(image)
    h, w, _ = data.shape
    return QImage(data.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


class SceneCanvas(QWidget):
    """Paints one image, centred, with smooth scaling.

    ``zoom_mode``: "fit" (scale to the widget, keeping the aspect) or a float factor
    (1.0 = one image pixel per screen pixel). Ctrl+wheel zooms; dragging pans a zoomed image.
    """

    zoom_changed = Signal(str)
    #: A left click while picking points: image pixel ``(y, x)`` (pixel centres are whole
    #: numbers, clamped to ``[0, H-1] x [0, W-1]``).
    point_clicked = Signal(float, float)
    #: The mouse moved with the left button held while picking points (a brush stroke):
    #: image pixel ``(y, x)``.
    point_dragged = Signal(float, float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(160, 160)
        self.setAutoFillBackground(True)
        palette = self.palette()
        palette.setColor(QPalette.ColorRole.Window, QColor(38, 38, 42))
        self.setPalette(palette)
        self._edited: np.ndarray | None = None
        self._base: np.ndarray | None = None
        self._edited_qimage: QImage | None = None
        self._base_qimage: QImage | None = None
        self._comparing = False
        self._zoom: str | float = "fit"
        self._pan = QPointF(0.0, 0.0)
        self._drag_origin: QPointF | None = None
        self._message = ""
        self._picking_points = False
        self._stroking = False
        #: Called as ``overlay(painter)`` after the image is painted (not while comparing).
        self.overlay: Callable[[QPainter], None] | None = None

    # ----- content ---------------------------------------------------------------------
    def set_image(self, image: np.ndarray | None) -> None:
        """Show ``image`` (uint8 ``[H, W, 3]``) as the edited scene."""
        self._edited = None if image is None else np.array(image, copy=True)
        self._edited_qimage = None if image is None else array_to_qimage(self._edited)
        self.update()

    def set_base_image(self, image: np.ndarray | None) -> None:
        """The unedited scene, shown while comparing."""
        self._base = None if image is None else np.array(image, copy=True)
        self._base_qimage = None if image is None else array_to_qimage(self._base)
        self.update()

    def image_array(self) -> np.ndarray | None:
        """The pixels on display right now (edited, or unedited while comparing)."""
        if self._comparing and self._base is not None:
            return self._base.copy()
        return None if self._edited is None else self._edited.copy()

    def set_message(self, text: str) -> None:
        """A line drawn over the canvas (empty clears it), for errors and empty states."""
        self._message = text
        self.update()

    @property
    def message(self) -> str:
        return self._message

    # ----- compare ---------------------------------------------------------------------
    @property
    def comparing(self) -> bool:
        return self._comparing

    def set_comparing(self, on: bool) -> None:
        if on != self._comparing:
            self._comparing = on
            self.update()

    # ----- zoom ------------------------------------------------------------------------
    @property
    def zoom_mode(self) -> str | float:
        return self._zoom

    def set_zoom(self, mode: str | float) -> None:
        """ "fit" or a factor in [ZOOM_STEPS[0], ZOOM_STEPS[-1]]."""
        if mode != "fit":
            mode = float(min(max(float(mode), ZOOM_STEPS[0]), ZOOM_STEPS[-1]))
        self._zoom = mode
        self._pan = QPointF(0.0, 0.0)
        self.update()
        self.zoom_changed.emit(self.zoom_label())

    def zoom_label(self) -> str:
        return "Fit" if self._zoom == "fit" else f"{self._zoom * 100:.0f}%"

    def current_scale(self) -> float:
        image = self._shown_qimage()
        if image is None or image.width() == 0:
            return 1.0
        if self._zoom == "fit":
            return min(self.width() / image.width(), self.height() / image.height())
        return float(self._zoom)

    def zoom_in(self) -> None:
        scale = self.current_scale()
        self.set_zoom(next((z for z in ZOOM_STEPS if z > scale * 1.001), ZOOM_STEPS[-1]))

    def zoom_out(self) -> None:
        scale = self.current_scale()
        self.set_zoom(next((z for z in reversed(ZOOM_STEPS) if z < scale * 0.999), ZOOM_STEPS[0]))

    # ----- image coordinates and point picking -----------------------------------------
    def widget_to_image(self, pos: QPointF) -> tuple[float, float] | None:
        """Image pixel ``(y, x)`` under widget position ``pos`` (None off the image)."""
        image = self._shown_qimage()
        rect = self.image_rect()
        if image is None or rect.isEmpty() or not rect.contains(pos):
            return None
        scale = self.current_scale()
        x = (pos.x() - rect.left()) / scale - 0.5
        y = (pos.y() - rect.top()) / scale - 0.5
        return (min(max(y, 0.0), image.height() - 1.0), min(max(x, 0.0), image.width() - 1.0))

    def image_to_widget(self, y: float, x: float) -> QPointF:
        """Widget position of image pixel ``(y, x)`` (the inverse of :meth:`widget_to_image`)."""
        rect = self.image_rect()
        scale = self.current_scale()
        return QPointF(rect.left() + (x + 0.5) * scale, rect.top() + (y + 0.5) * scale)

    @property
    def picking_points(self) -> bool:
        return self._picking_points

    def set_picking_points(self, on: bool) -> None:
        """Left clicks pick image points (:attr:`point_clicked`) instead of panning."""
        self._picking_points = bool(on)
        self._drag_origin = None
        if on:
            self.setCursor(Qt.CursorShape.CrossCursor)
        else:
            self.unsetCursor()

    # ----- painting and interaction ----------------------------------------------------
    def _shown_qimage(self) -> QImage | None:
        if self._comparing and self._base_qimage is not None:
            return self._base_qimage
        return self._edited_qimage

    def image_rect(self) -> QRectF:
        """Where the image lands in widget coordinates."""
        image = self._shown_qimage()
        if image is None:
            return QRectF()
        scale = self.current_scale()
        w, h = image.width() * scale, image.height() * scale
        return QRectF((self.width() - w) / 2 + self._pan.x(), (self.height() - h) / 2 + self._pan.y(), w, h)

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt's name
        painter = QPainter(self)
        image = self._shown_qimage()
        if image is not None:
            rect = self.image_rect()
            # Fit view is always smooth; an explicit zoom of 4x or more shows the pixels
            # (for inspecting a small GAN output or placing drag points precisely).
            smooth = self._zoom == "fit" or self.current_scale() < 4.0
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, smooth)
            painter.drawImage(rect, image)
            if self._comparing:
                painter.setPen(QColor(255, 255, 255))
                painter.drawText(
                    rect.adjusted(8, 6, -8, -6), Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft, "unedited"
                )
            elif self.overlay is not None:
                self.overlay(painter)
        if self._message:
            painter.setPen(QColor(230, 230, 230))
            painter.drawText(
                self.rect().adjusted(24, 24, -24, -24),
                Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                self._message,
            )
        painter.end()

    def wheelEvent(self, event) -> None:  # noqa: N802
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            (self.zoom_in if event.angleDelta().y() > 0 else self.zoom_out)()
            event.accept()
        else:
            super().wheelEvent(event)

    def mousePressEvent(self, event) -> None:  # noqa: N802
        if self._picking_points and event.button() == Qt.MouseButton.LeftButton:
            point = self.widget_to_image(event.position())
            if point is not None:
                self.point_clicked.emit(point[0], point[1])
            self._stroking = True
            event.accept()
            return
        if event.button() == Qt.MouseButton.LeftButton and self._zoom != "fit":
            self._drag_origin = event.position() - self._pan
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event) -> None:  # noqa: N802
        if self._picking_points and self._stroking and event.buttons() & Qt.MouseButton.LeftButton:
            point = self.widget_to_image(event.position())
            if point is not None:
                self.point_dragged.emit(point[0], point[1])
            event.accept()
            return
        if self._drag_origin is not None:
            self._pan = event.position() - self._drag_origin
            self.update()
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802
        self._drag_origin = None
        self._stroking = False
        super().mouseReleaseEvent(event)

    def mouseDoubleClickEvent(self, event) -> None:  # noqa: N802
        if self._picking_points:  # a fast second click is a point, not a zoom toggle
            self.mousePressEvent(event)
            return
        self.set_zoom("fit" if self._zoom != "fit" else 1.0)

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(640, 640)
