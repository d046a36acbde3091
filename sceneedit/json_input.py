"""Parsing JSON from strangers' files with bounded cost and one clear error.

``json.loads`` alone lets a small file raise ``RecursionError`` (``[[[[...``), ``ValueError``
("Exceeds the limit (4300 digits)") without the file's name, or smuggle ``NaN`` / ``Infinity``
into numbers that later fail far from the file. :func:`parse_json` checks the nesting depth
before parsing (one linear scan, no recursion), refuses non-finite numbers when asked, and
turns every failure into ``error`` naming ``where``. Outside the package layers, so every
layer can use it.
"""

from __future__ import annotations

import json
import math
from typing import Any

from .errors import SceneeditError

#: Deepest nesting of arrays/objects we accept (our own files nest 4-6 deep).
MAX_DEPTH = 64
#: Longest error excerpt quoted from a file.
EXCERPT = 60


class JSONInputError(SceneeditError, ValueError):
    """Malformed JSON in an input file (the message names the file)."""


def nesting_depth(text: str, limit: int = MAX_DEPTH) -> int:
    """Deepest ``[``/``{`` nesting of ``text`` outside strings; stops counting past ``limit``."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > limit:
                    return deepest
        elif char in "]}":
            depth -= 1
    return deepest


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"the number {name} is not allowed (only finite numbers)")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text[:EXCERPT]} overflows (only finite numbers)")
    return value


def parse_json(
    text: str | bytes,
    where: str,
    error: type[Exception] = JSONInputError,
    what: str = "JSON",
    allow_non_finite: bool = False,
    max_depth: int = MAX_DEPTH,
) -> Any:
    """Parse ``text``; raise ``error`` whose message starts with ``where`` on any problem.

    ``what`` names the document in messages ("metadata", "manifest", "recipe").
    """
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise error(f"{where}: {what} is not UTF-8 text ({exc.reason})") from None
    depth = nesting_depth(text, max_depth)
    if depth > max_depth:
        raise error(f"{where}: {what} nests deeper than {max_depth} levels; refusing it")
    hooks: dict[str, Any] = (
        {} if allow_non_finite else {"parse_constant": _refuse_constant, "parse_float": _finite_float}
    )
    try:
        return json.loads(text, **hooks)
    except json.JSONDecodeError as exc:
        raise error(f"{where}: malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    except (ValueError, RecursionError, TypeError) as exc:  # digit limit, NaN, overflow
        reason = " ".join(str(exc).split())[:200]
        raise error(f"{where}: {what} is not usable JSON ({reason})") from None
