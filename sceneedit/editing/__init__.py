"""Editing: manipulation math, edit operations, the undoable edit session, recipes.

``manipulation`` (pure numpy), ``state`` (immutable render inputs), ``snapshot`` (what the user
set, plain data), ``operations`` (one class per edit kind: fields, validation, effect, label),
``history`` (undo/redo, merged drags), ``builder`` (snapshot -> render state; maps seeds),
``replay`` (recipes -> histories -> states), ``resolve`` (the editor's render thread side),
``events`` (typed session events), ``session`` (the facade the editor binds to), ``recipe``
(the versioned JSON record), ``codes`` (seed -> code).
"""

from .events import SessionEvent
from .manipulation import ManipulationError
from .recipe import RecipeError, load_recipe, save_recipe
from .replay import states_for_recipe
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
    "SessionEvent",
    "edited_wp",
    "load_recipe",
    "save_recipe",
    "states_for_recipe",
]
