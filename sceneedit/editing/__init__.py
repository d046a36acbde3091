"""Editing: manipulation math, the undoable edit session, recipes.

``manipulation`` (pure numpy), ``state`` (immutable render inputs), ``session`` (the model
the editor binds to), ``recipe`` (the versioned JSON record), ``codes`` (seed -> code).
"""

from .manipulation import ManipulationError
from .recipe import RecipeError, load_recipe, save_recipe
from .session import EditError, EditSession
from .state import ConceptSettings, EditState, JitterSettings, edited_wp

__all__ = [
    "ConceptSettings",
    "EditError",
    "EditSession",
    "EditState",
    "JitterSettings",
    "ManipulationError",
    "RecipeError",
    "edited_wp",
    "load_recipe",
    "save_recipe",
]
