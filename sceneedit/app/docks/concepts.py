"""The Concepts dock: one row widget per bundle concept, grouped by level, with a filter.

Each :class:`ConceptRow` is a view of one concept of the EditSession: a strength slider
with a value box, a layer-range selector (a two-handle range slider over the generator's
layers with the concept's per-layer Δs drawn behind it), a reset button and the concept's
Δs rank. A row expands into per-layer sliders (one strength per layer of its range).
Rows write through the session's methods and re-read it on its events, with their own
signals blocked while they do (so a refresh is never taken for a user edit).
"""

from __future__ import annotations

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import (
    QDockWidget,
    QDoubleSpinBox,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QScrollArea,
    QSizePolicy,
    QStyle,
    QStyleOptionSlider,
    QToolButton,
    QVBoxLayout,
    QWidget,
)
from superqt import QRangeSlider

from sceneedit.editing.events import SessionEvent

from ...semantics.layers import format_layer_list
from ..qt_utils import SessionLink, icon, signals_blocked
from ..sliders import StepSlider

#: Display names of the bundle levels, in the order the dock shows them.
LEVEL_TITLES = {
    "layout": "Layout",
    "objects": "Objects",
    "attributes": "Attributes",
    "color": "Color scheme",
    "unknown": "Other",
}


def delta_s_ranks(bundle) -> dict[str, int]:
    """Rank (1 = strongest) of each concept by its re-scoring response Δs.

    Uses ``delta_s_all`` where present, else the largest per-layer Δs; concepts with
    neither are left out.
    """
    scores = {}
    for concept in bundle:
        if concept.delta_s_all is not None:
            scores[concept.name] = float(concept.delta_s_all)
        elif concept.delta_s:
            scores[concept.name] = max(float(v) for v in concept.delta_s)
    ordered = sorted(scores, key=lambda name: -scores[name])
    return {name: i + 1 for i, name in enumerate(ordered)}


#: Selectivity (own effect / largest side effect) at and above which a badge is green / amber.
TRUSTED_SELECTIVITY, FAIR_SELECTIVITY = 3.0, 1.5


def effect_badge(concept) -> tuple[str, str, str] | None:
    """``(text, colour, tooltip)`` of the measured-effect badge of ``concept``, or None when its
    bundle records no measurement (``extra['effect']``, written by ``sceneedit probe``)."""
    effect = (concept.extra or {}).get("effect")
    if not isinstance(effect, dict) or "selectivity" not in effect or "own_std" not in effect:
        return None
    selectivity, own = float(effect["selectivity"]), float(effect["own_std"])
    trusted = own >= 1.0 and selectivity >= TRUSTED_SELECTIVITY
    fair = own >= 1.0 and selectivity >= FAIR_SELECTIVITY
    colour = "#2e7d32" if trusted else "#b26a00" if fair else "#c62828"
    verdict = (
        "does what its name says"
        if trusted
        else "mostly does what its name says, with side effects"
        if fair
        else "moves other factors about as much as its own: use with care"
    )
    lines = [
        f"Measured on {effect.get('num_seeds', '?')} seeds over the slider range:",
        f"own score ({concept.name}): {own:+.2f} std",
        f"largest side effect ({effect.get('side_score') or '-'}): {float(effect.get('side_std', 0)):.2f} std",
        f"selectivity (own / largest side): {selectivity:.1f}",
    ]
    if effect.get("flip_rate") is not None:
        lines.append(
            f"slider end makes the predictor call it {concept.name} for "
            f"{float(effect['flip_rate']):.0%} of other-category seeds"
        )
    hold = (concept.extra or {}).get("hold") or []
    if hold:
        lines.append(f"holds {', '.join(hold)} by default (conditional manipulation)")
    held = (effect.get("selection") or {}).get("scores_held") or []
    if held:
        lines.append(f"direction refined to hold {', '.join(held)} still (score gradients projected out)")
    lines.append(verdict)
    return f"×{selectivity:.1f}", colour, "\n".join(lines)


class DeltaRangeSlider(QRangeSlider):
    """A horizontal two-handle layer selector with a bar per layer drawn behind it.

    Bar heights are the concept's per-layer Δs (scaled to the largest); bars inside the
    selected range are drawn stronger.
    """

    def __init__(self, num_layers: int, parent: QWidget | None = None) -> None:
        super().__init__(Qt.Orientation.Horizontal, parent)
        self.setRange(0, max(0, num_layers - 1))
        self.setSingleStep(1)
        self.setPageStep(1)
        self.setMinimumHeight(26)
        self._delta_s: list[float] | None = None

    def set_delta_s(self, values: list[float] | None) -> None:
        self._delta_s = None if values is None else [float(v) for v in values]
        self.update()

    def layer_center_x(self, layer: int) -> float:
        """Pixel x of a handle sitting at ``layer``."""
        opt = QStyleOptionSlider()
        opt.initFrom(self)
        handle = self.style().pixelMetric(QStyle.PixelMetric.PM_SliderLength, opt, self) or 10
        span = max(1.0, self.width() - handle)
        count = max(1, self.maximum() - self.minimum())
        return handle / 2 + span * (layer - self.minimum()) / count

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt's name
        values = self._delta_s
        if values:
            painter = QPainter(self)
            peak = max(max(abs(v) for v in values), 1e-12)
            lo, hi = self.value()
            n = len(values)
            step = self.layer_center_x(1) - self.layer_center_x(0) if n > 1 else self.width()
            bar_w = max(2.0, step * 0.6)
            height = self.height() - 2
            for layer, v in enumerate(values):
                x = self.layer_center_x(layer)
                h = max(1.0, height * abs(v) / peak)
                selected = lo <= layer <= hi
                color = QColor(64, 148, 222, 200) if selected else QColor(140, 140, 140, 110)
                painter.fillRect(QRectF(x - bar_w / 2, self.height() - 1 - h, bar_w, h), color)
            painter.end()
        super().paintEvent(event)


class ConceptRow(QFrame):
    """Controls for one concept; bound to ``session`` and the concept ``name``."""

    def __init__(self, session, name: str, rank: int | None, total: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.name = name
        concept = session.bundle[name]
        self.concept = concept
        self.num_layers = int(session.generator.num_layers)
        self._expanded = False
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setObjectName("conceptRow")

        lo, hi = sorted(float(v) for v in concept.distance_range)
        if lo == hi:
            lo, hi = lo - 1.0, hi + 1.0
        self.value_range = (lo, hi)

        # Header: expand, name, rank, value box, reset.
        self.expand_button = QToolButton()
        self.expand_button.setCheckable(True)
        self.expand_button.setAutoRaise(True)
        self.expand_button.setIcon(icon("fa5s.chevron-right"))
        self.expand_button.setToolTip("Per-layer strengths")
        self.name_label = QLabel(f"<b>{name}</b>")
        self.name_label.setToolTip(self._describe())
        self.rank_label = QLabel(f"Δs #{rank}" if rank is not None else "Δs –")
        self.rank_label.setToolTip(
            f"Rank {rank} of {total} concepts by re-scoring response Δs"
            if rank is not None
            else "This bundle has no re-scoring (Δs) figures for the concept"
        )
        self.rank_label.setStyleSheet("color: #707070;")
        #: Measured selectivity and own effect (hidden when the bundle has no measurement).
        self.effect_label = QLabel()
        badge = effect_badge(concept)
        if badge is not None:
            text, colour, tooltip = badge
            self.effect_label.setText(text)
            self.effect_label.setToolTip(tooltip)
            self.effect_label.setStyleSheet(f"color: white; background: {colour}; border-radius: 3px; padding: 0 3px;")
        self.effect_label.setVisible(badge is not None)
        self.value_box = QDoubleSpinBox()
        self.value_box.setRange(lo, hi)
        self.value_box.setDecimals(2)
        self.value_box.setSingleStep(0.1)
        self.value_box.setKeyboardTracking(False)
        self.value_box.setFixedWidth(72)
        self.reset_button = QToolButton()
        self.reset_button.setAutoRaise(True)
        self.reset_button.setIcon(icon("fa5s.undo-alt"))
        self.reset_button.setToolTip(f"Reset {name}")

        header = QHBoxLayout()
        header.setContentsMargins(0, 0, 0, 0)
        header.addWidget(self.expand_button)
        header.addWidget(self.name_label, 1)
        header.addWidget(self.rank_label)
        header.addWidget(self.effect_label)
        header.addWidget(self.value_box)
        header.addWidget(self.reset_button)

        self.slider = StepSlider()
        self.slider.setRange(lo, hi)
        self.slider.setSingleStep((hi - lo) / 100)
        self.slider.setPageStep((hi - lo) / 10)
        self.slider.setToolTip(f"Strength of {name} along its boundary normal (distance units)")

        self.layer_label = QLabel()
        self.layer_label.setMinimumWidth(70)
        self.layer_label.setStyleSheet("color: #606060;")
        self.range_slider = DeltaRangeSlider(self.num_layers)
        self.range_slider.set_delta_s(concept.delta_s)
        self.range_slider.setToolTip("Layers the edit acts on (bars: per-layer re-scoring response Δs)")
        layers_row = QHBoxLayout()
        layers_row.setContentsMargins(0, 0, 0, 0)
        layers_row.addWidget(self.layer_label)
        layers_row.addWidget(self.range_slider, 1)

        self.per_layer_panel = QWidget()
        self.per_layer_grid = QGridLayout(self.per_layer_panel)
        self.per_layer_grid.setContentsMargins(18, 0, 0, 0)
        self.per_layer_grid.setVerticalSpacing(2)
        self.per_layer_sliders: dict[int, StepSlider] = {}
        self.per_layer_panel.setVisible(False)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        layout.setSpacing(2)
        layout.addLayout(header)
        layout.addWidget(self.slider)
        layout.addLayout(layers_row)
        layout.addWidget(self.per_layer_panel)

        self.slider.sliderPressed.connect(self._end_drag)
        self.slider.sliderReleased.connect(self._end_drag)
        self.slider.valueChanged.connect(self._on_slider)
        self.value_box.valueChanged.connect(self._on_value_box)
        self.reset_button.clicked.connect(lambda: self.session.reset_concept(self.name))
        self.range_slider.valuesChanged.connect(self._on_range_moving)
        self.range_slider.sliderReleased.connect(self._commit_range)
        self.expand_button.toggled.connect(self._on_expand)
        self.refresh()

    # ----- model -> widgets ------------------------------------------------------------
    def refresh(self) -> None:
        """Re-read the session (signals blocked: nothing is written back)."""
        value = float(self.session.strength(self.name))
        layers = [int(i) for i in self.session.layers(self.name)]
        per_layer = self.session.layer_strengths(self.name)
        with signals_blocked(self.slider, self.value_box, self.range_slider, self.expand_button):
            self.slider.setValue(value)
            self.value_box.setValue(value)
            if layers:
                self.range_slider.setValue((min(layers), max(layers)))
            self._expanded = self._expanded or per_layer is not None
            self.expand_button.setChecked(self._expanded)
        self.layer_label.setText(f"layers {format_layer_list(layers)}")
        expanded = self._expanded
        self.per_layer_panel.setVisible(expanded)
        self.expand_button.setIcon(icon("fa5s.chevron-down" if expanded else "fa5s.chevron-right"))
        self.slider.setEnabled(per_layer is None)
        if expanded:
            self._build_per_layer(layers, per_layer, value)
        edited = value != 0.0 or per_layer is not None or layers != [int(i) for i in self.concept.layers]
        if self.property("edited") != edited:
            self.setProperty("edited", edited)
            self.style().unpolish(self)  # re-apply the stylesheet rule for edited rows
            self.style().polish(self)

    def _build_per_layer(self, layers: list[int], per_layer: list[float] | None, value: float) -> None:
        values = self._per_layer_values(layers, per_layer, value)
        if sorted(self.per_layer_sliders) != layers:
            while self.per_layer_grid.count():
                item = self.per_layer_grid.takeAt(0)
                if item.widget() is not None:
                    item.widget().deleteLater()
            self.per_layer_sliders = {}
            lo, hi = self.value_range
            for row, layer in enumerate(layers):
                slider = StepSlider()
                slider.setRange(lo, hi)
                slider.setSingleStep((hi - lo) / 100)
                slider.setToolTip(f"Strength of {self.name} at layer {layer}")
                value_label = QLabel()
                value_label.setMinimumWidth(40)
                slider.valueChanged.connect(lambda v, lab=value_label: lab.setText(f"{v:+.2f}"))
                slider.sliderPressed.connect(self._end_drag)
                slider.sliderReleased.connect(self._end_drag)
                slider.valueChanged.connect(lambda _v: self._on_per_layer())
                self.per_layer_grid.addWidget(QLabel(f"L{layer}"), row, 0)
                self.per_layer_grid.addWidget(slider, row, 1)
                self.per_layer_grid.addWidget(value_label, row, 2)
                self.per_layer_sliders[layer] = slider
        for layer, slider in self.per_layer_sliders.items():
            with signals_blocked(slider):
                slider.setValue(values[layer])
            label = self.per_layer_grid.itemAtPosition(layers.index(layer), 2).widget()
            label.setText(f"{values[layer]:+.2f}")

    def _per_layer_values(self, layers: list[int], per_layer: list[float] | None, value: float) -> dict[int, float]:
        """Per-layer strengths by layer index. The session's list covers the concept's
        layers in order (or, if it has one entry per generator layer, every layer)."""
        if per_layer is None:
            return {layer: value for layer in layers}
        per_layer = [float(v) for v in per_layer]
        if len(per_layer) == len(layers):
            return dict(zip(layers, per_layer, strict=True))
        if len(per_layer) == self.num_layers:
            return {layer: per_layer[layer] for layer in layers}
        raise ValueError(f"concept {self.name!r}: {len(per_layer)} per-layer strengths for layers {layers}")

    # ----- widgets -> model ------------------------------------------------------------
    def _end_drag(self) -> None:
        # A press or release closes the session's open merge: each drag is one undo step
        # (changes while the slider is down pass merge=True and join the drag's step).
        self.session.close_merge()

    def _on_slider(self, value: float) -> None:
        self.session.set_strength(self.name, float(value), merge=self.slider.isSliderDown())

    def _on_value_box(self, value: float) -> None:
        self.session.set_strength(self.name, float(value))

    def _on_range_moving(self, values: tuple[int, int]) -> None:
        lo, hi = int(values[0]), int(values[1])
        self.layer_label.setText(f"layers {format_layer_list(list(range(lo, hi + 1)))}")
        if not self.range_slider.isSliderDown():
            self._commit_range()  # keyboard, wheel or a programmatic change

    def _commit_range(self) -> None:
        lo, hi = (int(v) for v in self.range_slider.value())
        layers = list(range(lo, hi + 1))
        if layers != [int(i) for i in self.session.layers(self.name)]:
            self.session.set_layers(self.name, layers)

    def _on_per_layer(self) -> None:
        layers = sorted(self.per_layer_sliders)
        values = [float(self.per_layer_sliders[layer].value()) for layer in layers]
        down = any(s.isSliderDown() for s in self.per_layer_sliders.values())
        self.session.set_layer_strengths(self.name, values, merge=down)

    def _on_expand(self, expanded: bool) -> None:
        self._expanded = expanded
        if expanded:
            self.refresh()
        else:
            if self.session.layer_strengths(self.name) is not None:
                self.session.set_layer_strengths(self.name, None)  # back to one strength
            else:
                self.refresh()

    # ----- description -----------------------------------------------------------------
    def _describe(self) -> str:
        c = self.concept
        lines = [
            f"{c.name} ({LEVEL_TITLES.get(c.level, c.level)})",
            f"bundle layers: {format_layer_list(list(c.layers))}",
        ]
        if c.accuracy is not None:
            lines.append(f"boundary accuracy: {c.accuracy:.3f}")
        if c.delta_s_all is not None:
            lines.append(f"Δs (all layers): {c.delta_s_all:.3f}")
        return "\n".join(lines)

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(320, super().sizeHint().height())


class ConceptsDock(QDockWidget):
    """The dock holding all :class:`ConceptRow` widgets of the session's bundle."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Concepts", parent)
        self.setObjectName("conceptsDock")
        self.session = None
        self._session_link = SessionLink(self._on_session_event)
        self.rows: dict[str, ConceptRow] = {}
        self._headers: dict[str, QLabel] = {}

        self.filter_box = QLineEdit()
        self.filter_box.setPlaceholderText("Filter concepts…")
        self.filter_box.setClearButtonEnabled(True)
        self.filter_box.textChanged.connect(self.apply_filter)

        self.empty_label = QLabel("No boundary bundle loaded.\nFile ▸ Import boundary bundle… (Ctrl+I)")
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_label.setWordWrap(True)

        self.rows_widget = QWidget()
        self.rows_widget.setStyleSheet(
            'QFrame#conceptRow[edited="true"] { border: 1px solid #4a90d9; border-radius: 3px; }'
        )
        self.rows_layout = QVBoxLayout(self.rows_widget)
        self.rows_layout.setContentsMargins(2, 2, 2, 2)
        self.rows_layout.setSpacing(4)
        self.rows_layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.rows_widget)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)

        body = QWidget()
        layout = QVBoxLayout(body)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.filter_box)
        layout.addWidget(self.empty_label)
        layout.addWidget(scroll, 1)
        body.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Expanding)
        self.setWidget(body)
        self.rebuild()

    def set_session(self, session) -> None:
        self._session_link.drop()
        self.session = session
        if session is not None:
            self._session_link.follow(session)
        self.rebuild()

    def _on_session_event(self, event: SessionEvent, payload: dict) -> None:
        if event is SessionEvent.BUNDLE_CHANGED:
            self.rebuild()
        elif event is SessionEvent.CONCEPT_CHANGED:
            row = self.rows.get(payload.get("concept"))
            if row is not None:
                row.refresh()

    def rebuild(self) -> None:
        """Recreate the rows from the session's bundle, grouped by level."""
        for widget in list(self.rows.values()) + list(self._headers.values()):
            self.rows_layout.removeWidget(widget)
            widget.deleteLater()
        self.rows, self._headers = {}, {}
        bundle = None if self.session is None else self.session.bundle
        has_concepts = bundle is not None and len(bundle) > 0
        self.empty_label.setVisible(not has_concepts)
        self.filter_box.setEnabled(has_concepts)
        if not has_concepts:
            return
        ranks = delta_s_ranks(bundle)
        position = 0
        for level, concepts in bundle.by_level().items():
            header = QLabel(LEVEL_TITLES.get(level, level).upper())
            header.setStyleSheet("font-weight: bold; color: #707070; padding-top: 6px;")
            self.rows_layout.insertWidget(position, header)
            self._headers[level] = header
            position += 1
            for concept in concepts:
                row = ConceptRow(self.session, concept.name, ranks.get(concept.name), len(ranks))
                self.rows_layout.insertWidget(position, row)
                self.rows[concept.name] = row
                position += 1
        self.apply_filter(self.filter_box.text())

    def apply_filter(self, text: str) -> None:
        """Show rows whose name contains ``text`` (case-insensitive); hide empty groups."""
        needle = text.strip().lower()
        bundle = None if self.session is None else self.session.bundle
        if bundle is None:
            return
        for level, concepts in bundle.by_level().items():
            visible = 0
            for concept in concepts:
                row = self.rows.get(concept.name)
                if row is None:
                    continue
                show = not needle or needle in concept.name.lower()
                row.setVisible(show)
                visible += show
            if level in self._headers:
                self._headers[level].setVisible(visible > 0)
