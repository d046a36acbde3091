"""Small dialogs: About, and the loaded generator's model card."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import qVersion
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QMessageBox, QTextBrowser, QVBoxLayout, QWidget


def model_card_path(generator_path: str | Path | None) -> Path | None:
    """The model card next to a generator file: ``<stem>.md``, else ``README.md`` in a
    checkpoint folder; None when there is none."""
    if not generator_path:
        return None
    path = Path(generator_path)
    candidates = [path / "README.md"] if path.is_dir() else [path.with_suffix(".md")]
    return next((c for c in candidates if c.is_file()), None)


def about_text() -> str:
    from sceneedit import __version__

    return (
        f"<h3>sceneedit {__version__}</h3>"
        "<p>Semantic scene editing through the layer-wise latent codes of GANs: move a scene "
        "along concept boundaries (layout, objects, attributes, color scheme) on the layers "
        "where each concept lives.</p>"
        "<p>Method: C. Yang, Y. Shen, B. Zhou, <i>Semantic Hierarchy Emerges in Deep "
        "Generative Representations for Scene Synthesis</i>, IJCV 2020.</p>"
        f"<p>Qt {qVersion()}</p>"
    )


def show_about(parent: QWidget) -> None:
    QMessageBox.about(parent, "About sceneedit", about_text())


class MarkdownDialog(QDialog):
    """A resizable, read-only Markdown viewer."""

    def __init__(self, title: str, markdown: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.resize(720, 640)
        self.browser = QTextBrowser()
        self.browser.setOpenExternalLinks(True)
        self.browser.setMarkdown(markdown)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.browser)
        layout.addWidget(buttons)


def show_model_card(parent: QWidget, card: Path) -> None:
    try:
        text = card.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        QMessageBox.critical(parent, "Model card", f"{card}: cannot read the model card ({exc})")
        return
    MarkdownDialog(f"Model card — {card.name}", text, parent).exec()
