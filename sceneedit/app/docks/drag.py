"""The Drag panel: a view of the window's :class:`~sceneedit.app.drag_tool.DragTool`.

It lists the handle → target pairs (with each pair's distance) and the fixed points,
chooses what a canvas click adds (handle, fixed point, mask brush), sets the brush size
and clears the mask, edits the run's steps, learning rate and layer range (starting from
the generator's defaults, :func:`sceneedit.editing.drag.default_settings`), shows the live
distance to the targets, and runs or stops the drag. The tool owns every value; the panel
writes through its methods and refreshes from its signals.
"""

from __future__ import annotations

import math

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QButtonGroup,
    QDockWidget,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ..drag_tool import POINT_KINDS
from ..qt_utils import signals_blocked


def _point_text(point) -> str:
    return f"({point[0]:.1f}, {point[1]:.1f})"


class DragDock(QDockWidget):
    """Drag points, mask, settings and progress. ``tool``: the window's DragTool."""

    def __init__(self, tool, parent: QWidget | None = None) -> None:
        super().__init__("Drag", parent)
        self.setObjectName("dragDock")
        self.tool = tool

        self.kind_buttons: dict[str, QRadioButton] = {}
        self._kind_group = QButtonGroup(self)
        kind_row = QHBoxLayout()
        for kind, label in POINT_KINDS.items():
            button = QRadioButton(label)
            button.setToolTip(
                {
                    "handle": "Click a point on the object, then where it should go",
                    "anchor": "Click points that must stay where they are",
                    "mask": "Paint the region allowed to change (click and drag)",
                }[kind]
            )
            button.toggled.connect(lambda on, kind=kind: on and self.tool.set_point_kind(kind))
            self._kind_group.addButton(button)
            self.kind_buttons[kind] = button
            kind_row.addWidget(button)

        self.pair_list = QListWidget()
        self.pair_list.setMaximumHeight(110)
        self.pair_list.setToolTip("Handle → target (distance left)")
        self.remove_pair_button = QPushButton("Remove pair")
        self.remove_pair_button.clicked.connect(self._remove_pair)
        self.anchor_list = QListWidget()
        self.anchor_list.setMaximumHeight(80)
        self.anchor_list.setToolTip("Fixed points: they must not move")
        self.remove_anchor_button = QPushButton("Remove fixed point")
        self.remove_anchor_button.clicked.connect(self._remove_anchor)

        self.brush_box = QSpinBox()
        self.brush_box.setRange(1, 64)
        self.brush_box.setSuffix(" px")
        self.brush_box.setToolTip("Radius of the mask brush, in image pixels")
        self.brush_box.valueChanged.connect(lambda value: self.tool.set_brush_radius(value))
        self.clear_mask_button = QPushButton("Clear mask")
        self.clear_mask_button.clicked.connect(lambda: self.tool.clear_mask())
        self.mask_label = QLabel()

        self.steps_box = QSpinBox()
        self.steps_box.setRange(1, 5000)
        self.steps_box.setToolTip("Most optimizer steps (short drags stop sooner)")
        self.steps_box.valueChanged.connect(lambda value: self.tool.set_option("steps", int(value)))
        self.lr_box = QDoubleSpinBox()
        self.lr_box.setDecimals(4)
        self.lr_box.setRange(0.0001, 1.0)
        self.lr_box.setSingleStep(0.001)
        self.lr_box.setToolTip("Learning rate (it shrinks as the handles near their targets)")
        self.lr_box.valueChanged.connect(lambda value: self.tool.set_option("lr", float(value)))
        self.first_layer = QSpinBox()
        self.last_layer = QSpinBox()
        for box in (self.first_layer, self.last_layer):
            box.setToolTip("Layers of the code the drag may change")
            box.valueChanged.connect(self._layers_changed)
        self.defaults_button = QPushButton("Defaults")
        self.defaults_button.setToolTip("The generator's default steps, learning rate and layers")
        self.defaults_button.clicked.connect(self._restore_defaults)

        self.distance_label = QLabel("Distance to target: –")
        self.distance_label.setObjectName("dragDistance")

        run_row = QHBoxLayout()
        for action in (tool.run_action, tool.stop_action, tool.clear_action):
            button = QToolButton()
            button.setDefaultAction(action)
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
            run_row.addWidget(button)
        mode_button = QToolButton()
        mode_button.setDefaultAction(tool.mode_action)
        mode_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)

        layers_row = QHBoxLayout()
        layers_row.addWidget(self.first_layer)
        layers_row.addWidget(QLabel("to"))
        layers_row.addWidget(self.last_layer)
        mask_row = QHBoxLayout()
        mask_row.addWidget(self.brush_box)
        mask_row.addWidget(self.clear_mask_button)
        form = QFormLayout()
        form.addRow("Brush", mask_row)
        form.addRow("Mask", self.mask_label)
        form.addRow("Steps", self.steps_box)
        form.addRow("Learning rate", self.lr_box)
        form.addRow("Layers", layers_row)
        form.addRow("", self.defaults_button)

        body = QWidget()
        layout = QVBoxLayout(body)
        layout.addWidget(mode_button)
        layout.addLayout(kind_row)
        layout.addWidget(QLabel("Handles → targets"))
        layout.addWidget(self.pair_list)
        layout.addWidget(self.remove_pair_button)
        layout.addWidget(QLabel("Fixed points"))
        layout.addWidget(self.anchor_list)
        layout.addWidget(self.remove_anchor_button)
        layout.addLayout(form)
        layout.addWidget(self.distance_label)
        layout.addLayout(run_row)
        layout.addStretch(1)
        self.setWidget(body)

        tool.points_changed.connect(self.refresh)
        tool.options_changed.connect(self.refresh)
        tool.progress.connect(self._on_progress)
        tool.running_changed.connect(lambda _running: self.refresh())
        tool.drag_finished.connect(lambda _result: self.refresh())
        self.refresh()

    # ----- writing to the tool ---------------------------------------------------------
    def _remove_pair(self) -> None:
        self.tool.remove_pair(self.pair_list.currentRow())

    def _remove_anchor(self) -> None:
        self.tool.remove_anchor(self.anchor_list.currentRow())

    def _layers_changed(self) -> None:
        first, last = self.first_layer.value(), self.last_layer.value()
        if last < first:
            with signals_blocked(self.last_layer):
                self.last_layer.setValue(first)
            last = first
        self.tool.set_option("layers", tuple(range(first, last + 1)))

    def _restore_defaults(self) -> None:
        for name in ("steps", "lr", "layers"):
            self.tool.set_option(name, None)

    # ----- reading from the tool -------------------------------------------------------
    def _on_progress(self, step: int, steps: int, distance: float) -> None:
        self.distance_label.setText(f"Distance to target: {distance:.2f} px (step {step} of {steps})")
        self._fill_pairs(self.tool.tracked)

    def _fill_pairs(self, handles) -> None:
        tool = self.tool
        row = self.pair_list.currentRow()
        self.pair_list.clear()
        for handle, target in zip(handles or tool.handles, tool.targets, strict=False):
            distance = math.hypot(target[0] - handle[0], target[1] - handle[1])
            self.pair_list.addItem(f"{_point_text(handle)} → {_point_text(target)}   {distance:.1f} px")
        if tool.pending_handle is not None:
            self.pair_list.addItem(f"{_point_text(tool.pending_handle)} → (click the target)")
        if 0 <= row < self.pair_list.count():
            self.pair_list.setCurrentRow(row)

    def refresh(self) -> None:
        """Show the tool's points, mask and settings."""
        tool = self.tool
        settings = tool.effective_settings()
        has_session = settings is not None
        running = tool.running
        self._fill_pairs(tool.tracked if running else None)
        self.anchor_list.clear()
        for anchor in tool.anchors:
            self.anchor_list.addItem(_point_text(anchor))
        area = 0 if tool.mask is None else int((tool.mask > 0.5).sum())
        if area:
            self.mask_label.setText(f"{area} px may change")
            self.mask_label.setToolTip(
                "Only the painted region changes: outside it the image keeps the scene as it was before the drag"
            )
        elif has_session and settings.keep_radius is not None:
            self.mask_label.setText(f"none: what is over {settings.keep_radius:g} px from the points is kept")
        else:
            self.mask_label.setText("none: the drag may change anything")
        widgets = [
            *self.kind_buttons.values(),
            self.brush_box,
            self.steps_box,
            self.lr_box,
            self.first_layer,
            self.last_layer,
            self.defaults_button,
            self.remove_pair_button,
            self.remove_anchor_button,
        ]
        with signals_blocked(*widgets):
            self.kind_buttons[tool.point_kind].setChecked(True)
            self.brush_box.setValue(int(round(tool.brush_radius)))
            if has_session:
                layers = settings.optimized_layers(int(tool.session.num_layers))
                top = int(tool.session.num_layers) - 1
                self.first_layer.setRange(0, top)
                self.last_layer.setRange(0, top)
                self.first_layer.setValue(min(layers))
                self.last_layer.setValue(max(layers))
                self.steps_box.setValue(int(settings.steps))
                self.lr_box.setValue(float(settings.lr))
        for widget in widgets:
            widget.setEnabled(has_session and not running)
        self.clear_mask_button.setEnabled(has_session and not running and area > 0)
        self.remove_pair_button.setEnabled(has_session and not running and bool(tool.handles))
        self.remove_anchor_button.setEnabled(has_session and not running and bool(tool.anchors))
        if not running:
            distance = tool.last_distance
            self.distance_label.setText(
                "Distance to target: –" if distance is None else f"Distance to target: {distance:.2f} px (last drag)"
            )
