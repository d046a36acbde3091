"""Dock widgets of the editor window; each is a view of the EditSession."""
