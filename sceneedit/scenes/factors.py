"""The factors of the procedural room world, their table, and how they are sampled.

Every factor is sampled independently of every other one (a generator trained on the world
can learn them as separate variation factors). Placement jitter inside a room (where exactly the
bed stands, which clutter item goes where) is not a factor: it is drawn from ``detail_seed``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np

#: Version of the world (sampling + rendering). Bump it whenever either changes, so caches of
#: rendered data and models trained on an older world can be told apart.
WORLD_VERSION = 1

#: Scene categories, in label order (``category`` is an index into this tuple).
CATEGORIES = ("bedroom", "living_room", "dining_room", "kitchen")

#: Allowed factor kinds and levels (the levels are the paper's four abstraction levels).
KINDS = ("categorical", "binary", "continuous")
LEVELS = ("layout", "objects", "attributes", "color")


@dataclass(frozen=True)
class FactorSpec:
    """One labelled factor: ``low``/``high`` bound its values (for categorical, 0..n-1)."""

    name: str
    kind: str
    low: float
    high: float
    level: str
    description: str
    choices: tuple[str, ...] = ()
    #: Continuous factors that only take whole values (a count).
    counted: bool = False

    @property
    def integer(self) -> bool:
        """True when the factor's values are whole numbers."""
        return self.counted or self.kind in ("categorical", "binary")

    def normalize(self, value: np.ndarray | float) -> np.ndarray:
        """Map values in ``[low, high]`` to ``[0, 1]``."""
        return (np.asarray(value, dtype=np.float64) - self.low) / (self.high - self.low)

    def denormalize(self, unit: np.ndarray | float) -> np.ndarray:
        """Inverse of :meth:`normalize`."""
        return self.low + np.asarray(unit, dtype=np.float64) * (self.high - self.low)


#: Every sampled factor, in a fixed order. Units: radians for angles, metres for sizes.
FACTOR_SPEC: tuple[FactorSpec, ...] = (
    FactorSpec(
        "camera_yaw",
        "continuous",
        -0.26,
        0.26,
        "layout",
        "camera turn left(-)/right(+) in radians: moves the vanishing point sideways and "
        "decides how much of each side wall shows",
    ),
    FactorSpec(
        "camera_pitch",
        "continuous",
        -0.28,
        0.02,
        "layout",
        "camera tilt down(-)/up(+) in radians: moves the floor and ceiling lines",
    ),
    FactorSpec(
        "camera_x",
        "continuous",
        -1.0,
        1.0,
        "layout",
        "camera position across the room, as a fraction of the free half-width",
    ),
    FactorSpec("room_width", "continuous", 3.4, 5.0, "layout", "room width in metres"),
    FactorSpec(
        "room_depth",
        "continuous",
        3.5,
        5.2,
        "layout",
        "room depth in metres (distance from the camera wall to the back wall)",
    ),
    FactorSpec("room_height", "continuous", 2.5, 3.2, "layout", "ceiling height in metres"),
    FactorSpec(
        "category",
        "categorical",
        0,
        len(CATEGORIES) - 1,
        "objects",
        "scene category, defined by its furniture",
        CATEGORIES,
    ),
    FactorSpec(
        "indoor_lighting",
        "continuous",
        0.0,
        1.0,
        "attributes",
        "artificial light: 0 dim (dark room, small lamp glow) to 1 bright",
    ),
    FactorSpec(
        "natural_light",
        "binary",
        0,
        1,
        "attributes",
        "1 if a window lets daylight in (bright panes, a sun patch on the floor)",
    ),
    FactorSpec(
        "clutter",
        "continuous",
        0,
        6,
        "attributes",
        "number of small items (books, vases, plants, boxes) on surfaces and the floor",
        counted=True,
    ),
    FactorSpec("floor_wood", "binary", 0, 1, "attributes", "1 wood planks, 0 carpet"),
    FactorSpec(
        "wall_hue",
        "continuous",
        0.0,
        1.0,
        "color",
        "wall colour along a hue arc: 0 red, 0.25 yellow, 0.5 green, 1 blue",
    ),
    FactorSpec("floor_tone", "continuous", 0.0, 1.0, "color", "floor brightness: 0 light, 1 dark"),
    FactorSpec(
        "furniture_warmth",
        "continuous",
        0.0,
        1.0,
        "color",
        "furniture palette: 0 cool (blues, grey ash), 1 warm (terracotta, walnut)",
    ),
)

FACTOR_NAMES: tuple[str, ...] = tuple(spec.name for spec in FACTOR_SPEC)
_SPEC_BY_NAME = {spec.name: spec for spec in FACTOR_SPEC}


def factor_spec(name: str) -> FactorSpec:
    """The :class:`FactorSpec` called ``name``; a clear error names the known ones."""
    try:
        return _SPEC_BY_NAME[name]
    except KeyError:
        raise ValueError(f"unknown scene factor {name!r}; known: {', '.join(FACTOR_NAMES)}") from None


@dataclass(frozen=True)
class SceneFactors:
    """All factors of one scene; ``render_scene`` is a pure function of this object."""

    camera_yaw: float
    camera_pitch: float
    camera_x: float
    room_width: float
    room_depth: float
    room_height: float
    category: int
    indoor_lighting: float
    natural_light: int
    clutter: int
    floor_wood: int
    wall_hue: float
    floor_tone: float
    furniture_warmth: float
    #: Seed of the nuisance randomness (furniture placement, clutter kinds and spots).
    detail_seed: int = 0

    def __post_init__(self) -> None:
        for spec in FACTOR_SPEC:
            value = getattr(self, spec.name)
            if isinstance(value, str) or not isinstance(value, (int, float, np.integer, np.floating)):
                raise ValueError(f"scene factor {spec.name}={value!r} must be a number")
            if not (spec.low <= value <= spec.high):
                raise ValueError(f"scene factor {spec.name}={value!r} is outside its range [{spec.low}, {spec.high}]")
            if spec.integer:
                if int(value) != value:
                    raise ValueError(f"scene factor {spec.name}={value!r} must be a whole number")
                object.__setattr__(self, spec.name, int(value))
            else:
                object.__setattr__(self, spec.name, float(value))

    @property
    def category_name(self) -> str:
        return CATEGORIES[self.category]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def replace(self, **changes: Any) -> SceneFactors:
        """A copy with some factors changed (validated)."""
        values = self.as_dict()
        unknown = set(changes) - set(values)
        if unknown:
            raise ValueError(f"unknown scene factor(s) {sorted(unknown)}; known: {', '.join(values)}")
        values.update(changes)
        return SceneFactors(**values)


def sample_factors(rng: np.random.Generator | int | None = None) -> SceneFactors:
    """Draw every factor independently: uniform within its range (integers for discrete ones)."""
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    values: dict[str, Any] = {}
    for spec in FACTOR_SPEC:
        if spec.integer:
            values[spec.name] = int(rng.integers(int(spec.low), int(spec.high) + 1))
        else:
            values[spec.name] = float(rng.uniform(spec.low, spec.high))
    values["detail_seed"] = int(rng.integers(0, 2**31 - 1))
    return SceneFactors(**values)


#: Length of a factor code (see :func:`factors_from_code`): one standard-normal number per factor.
FACTOR_CODE_DIMS = len(FACTOR_SPEC)


def factors_from_code(code: np.ndarray, detail_seed: int = 0) -> SceneFactors:
    """The scene whose factors are driven by ``code`` ``[FACTOR_CODE_DIMS]`` of N(0, 1) numbers.

    Factor ``i`` is ``u = Phi(code[i])`` (the normal CDF) mapped onto its range: uniform for
    continuous factors, equal-width bins for discrete ones. A standard-normal ``code`` thus
    gives exactly the distribution of :func:`sample_factors`; it is the same world, drawn from
    the noise a generator receives (used for paired reconstruction in training).
    """
    code = np.asarray(code, dtype=np.float64).reshape(-1)
    if code.shape[0] != FACTOR_CODE_DIMS or not np.all(np.isfinite(code)):
        raise ValueError(f"a factor code has {FACTOR_CODE_DIMS} finite numbers, got shape {list(code.shape)}")
    values: dict[str, Any] = {}
    for spec, x in zip(FACTOR_SPEC, code, strict=True):
        u = 0.5 * (1.0 + math.erf(float(x) / math.sqrt(2.0)))  # in [0, 1]
        if spec.integer:
            count = int(spec.high) - int(spec.low) + 1
            values[spec.name] = int(spec.low) + min(int(u * count), count - 1)
        else:  # rounding may step a hair outside the range
            values[spec.name] = float(np.clip(spec.denormalize(u), spec.low, spec.high))
    values["detail_seed"] = int(detail_seed)
    return SceneFactors(**values)


def factors_to_row(factors: SceneFactors) -> dict[str, float]:
    """The labelled factors as plain numbers (no ``detail_seed``)."""
    return {f.name: getattr(factors, f.name) for f in fields(factors) if f.name in _SPEC_BY_NAME}
