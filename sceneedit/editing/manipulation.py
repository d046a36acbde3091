"""Manipulation math on layer-wise codes: pure numpy in, numpy out.

Shapes: ``L`` layers, ``D`` code dimensions. A single code ``wp`` is ``[L, D]``; a batch is
``[N, L, D]``; every function that edits codes accepts both and returns the same shape.
Normals are unit vectors ``[D]`` (or ``[1, D]``, or ``[L, D]`` for one normal per layer).

**Distances** are in units of the unit normal and are *offsets from the starting code*:
distance ``d`` at layer ``l`` moves ``wp[l]`` by ``d * scale[l] * n_l`` where ``scale`` is
the truncation-aware per-layer strength (see :func:`truncation_strengths`). So ``d = 0``
is the starting code whichever side of the boundary it lies on. InterFaceGAN instead
measures distances from the hyperplane; :func:`distance_from_hyperplane` and
:func:`offset_to_reach` convert between the two.

All edits keep layers outside their layer range bit-for-bit unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import SceneeditError


class ManipulationError(SceneeditError, ValueError):
    """Arrays or options that a manipulation cannot use (shape, layer, degenerate normal)."""


# ----- helpers ---------------------------------------------------------------------------
def _as_codes(wp: np.ndarray) -> tuple[np.ndarray, bool]:
    """Return ``(codes [N, L, D] float32 copy, was_single)``."""
    arr = np.asarray(wp)
    if arr.ndim == 2:
        return arr.astype(np.float32, copy=True)[None], True
    if arr.ndim == 3:
        return arr.astype(np.float32, copy=True), False
    raise ManipulationError(f"expected codes of shape [L, D] or [N, L, D], got {list(arr.shape)}")


def _restore(codes: np.ndarray, single: bool) -> np.ndarray:
    return codes[0] if single else codes


def check_layers(layers: Sequence[int], num_layers: int, what: str = "layers") -> list[int]:
    """Validate 0-based layer indices; return them sorted and unique.

    Raises :class:`ManipulationError` naming the allowed range for any index outside
    ``[0, num_layers - 1]`` or any non-integer.
    """
    result = []
    for layer in layers:
        if isinstance(layer, (bool, np.bool_)) or not isinstance(layer, (int, np.integer)):
            raise ManipulationError(f"{what}: layer indices must be integers, got {layer!r}")
        if not 0 <= int(layer) < num_layers:
            raise ManipulationError(
                f"{what}: layer {int(layer)} is out of range; this generator has layers 0-{num_layers - 1}"
            )
        result.append(int(layer))
    return sorted(set(result))


def unit(vector: np.ndarray, what: str = "normal") -> np.ndarray:
    """``vector / ||vector||`` (float64 math, float32 result); error if (near) zero."""
    v = np.asarray(vector, dtype=np.float64)
    norm = float(np.linalg.norm(v))
    if not np.isfinite(norm) or norm < 1e-8:
        raise ManipulationError(f"{what} has zero (or non-finite) length and cannot be normalized")
    return (v / norm).astype(np.float32)


def layer_normals(normal: np.ndarray, num_layers: int) -> np.ndarray:
    """Broadcast a normal to one row per layer.

    ``normal``: ``[D]``, ``[1, D]`` (shared by all layers) or ``[L, D]``.
    Returns float32 ``[L, D]``.
    """
    n = np.asarray(normal, dtype=np.float32)
    if n.ndim == 1:
        n = n[None]
    if n.ndim != 2 or n.shape[0] not in (1, num_layers):
        raise ManipulationError(f"normal must be [D], [1, D] or [{num_layers}, D], got {list(np.shape(normal))}")
    return np.repeat(n, num_layers, axis=0) if n.shape[0] == 1 else n.copy()


# ----- truncation-aware strength ---------------------------------------------------------
def truncation_strengths(num_layers: int, truncation_psi: float, truncation_layers: int) -> np.ndarray:
    """Per-layer step multipliers ``[L]`` float32 (HiGAN's layer-wise manipulation strength).

    The truncation trick maps ``w -> w_avg + psi * (w - w_avg)`` on layers
    ``[0, truncation_layers)``, which shrinks every distance there by ``psi``. A boundary
    found on untruncated codes therefore moves a truncated layer by ``psi`` times the step
    to keep the same semantic effect per unit of distance: the multiplier is ``psi`` on
    those layers and 1 elsewhere.
    """
    if num_layers <= 0:
        raise ManipulationError(f"num_layers must be positive, got {num_layers}")
    if not 0 <= truncation_layers <= num_layers:
        raise ManipulationError(f"truncation_layers must be in [0, {num_layers}], got {truncation_layers}")
    scale = np.ones(num_layers, dtype=np.float32)
    scale[:truncation_layers] = np.float32(truncation_psi)
    return scale


# ----- independent and joint edits -------------------------------------------------------
@dataclass(frozen=True)
class ConceptEdit:
    """One concept's contribution to an edit.

    ``directions``: float32 ``[len(layers), D]``, the unit normal used at each layer of
    the range (already made conditional if wanted). ``layers``: sorted 0-based indices.
    ``distances``: one distance per layer of the range, in units of the unit normal.
    """

    name: str
    directions: np.ndarray
    layers: tuple[int, ...]
    distances: tuple[float, ...]

    def __post_init__(self) -> None:
        n = len(self.layers)
        if len(self.distances) != n:
            raise ManipulationError(f"concept {self.name!r}: {len(self.distances)} distances for {n} layers")
        if np.ndim(self.directions) != 2 or np.shape(self.directions)[0] != n:
            raise ManipulationError(
                f"concept {self.name!r}: directions must be [{n}, D], got {list(np.shape(self.directions))}"
            )


def concept_edit(
    name: str,
    normal: np.ndarray,
    layers: Sequence[int],
    distance: float | Sequence[float],
    num_layers: int,
) -> ConceptEdit:
    """Build a :class:`ConceptEdit` from a normal ``[D] / [1, D] / [L, D]``.

    ``distance``: one number for every layer of ``layers``, or one per layer of the range.
    """
    layer_list = check_layers(layers, num_layers, what=f"concept {name!r}")
    if isinstance(distance, Sequence) or np.ndim(distance) > 0:
        distances = tuple(float(d) for d in np.asarray(distance, dtype=np.float64))
        if len(distances) != len(layer_list):
            raise ManipulationError(
                f"concept {name!r}: {len(distances)} per-layer strengths for {len(layer_list)} layers {layer_list}"
            )
    else:
        distances = tuple(float(distance) for _ in layer_list)
    directions = (
        layer_normals(normal, num_layers)[layer_list]
        if layer_list
        else np.zeros((0, np.shape(normal)[-1]), dtype=np.float32)
    )
    return ConceptEdit(name=name, directions=directions, layers=tuple(layer_list), distances=distances)


def joint_edit(
    wp: np.ndarray,
    edits: Sequence[ConceptEdit],
    layer_scale: np.ndarray | None = None,
) -> np.ndarray:
    """Apply several concept edits at once: ``wp[l] += sum_i d_i,l * scale[l] * n_i,l``.

    ``wp``: ``[L, D]`` or ``[N, L, D]``. ``layer_scale``: ``[L]`` multipliers (see
    :func:`truncation_strengths`), ones when None. Layers no edit touches are returned
    bit-for-bit unchanged. Returns float32 of ``wp``'s shape.
    """
    codes, single = _as_codes(wp)
    num_layers, dim = codes.shape[1:]
    scale = np.ones(num_layers, np.float32) if layer_scale is None else np.asarray(layer_scale, np.float32)
    if scale.shape != (num_layers,):
        raise ManipulationError(f"layer_scale must be [{num_layers}], got {list(scale.shape)}")
    offset = np.zeros((num_layers, dim), dtype=np.float32)
    touched = np.zeros(num_layers, dtype=bool)
    for edit in edits:
        check_layers(edit.layers, num_layers, what=f"concept {edit.name!r}")
        if edit.directions.shape[1:] != (dim,):
            raise ManipulationError(
                f"concept {edit.name!r}: normal has {edit.directions.shape[1]} dimensions, codes have {dim}"
            )
        for row, layer in enumerate(edit.layers):
            step = np.float32(edit.distances[row]) * scale[layer]
            offset[layer] += step * edit.directions[row].astype(np.float32)
            touched[layer] = True
    codes[:, touched] = codes[:, touched] + offset[touched]
    return _restore(codes, single)


def independent_edit(
    wp: np.ndarray,
    normal: np.ndarray,
    distance: float | Sequence[float],
    layers: Sequence[int],
    layer_scale: np.ndarray | None = None,
) -> np.ndarray:
    """``code' = code + distance * scale[l] * n`` on ``layers`` only.

    ``wp``: ``[L, D]`` or ``[N, L, D]``; ``normal``: ``[D]``, ``[1, D]`` or ``[L, D]``;
    ``distance``: a number or one per layer of ``layers``. Returns float32 of ``wp``'s shape.
    """
    if np.ndim(wp) not in (2, 3):
        raise ManipulationError(f"expected codes of shape [L, D] or [N, L, D], got {list(np.shape(wp))}")
    edit = concept_edit("concept", normal, layers, distance, np.shape(wp)[-2])
    return joint_edit(wp, [edit], layer_scale)


def sweep(
    wp: np.ndarray,
    normal: np.ndarray,
    start: float,
    end: float,
    steps: int,
    layers: Sequence[int],
    layer_scale: np.ndarray | None = None,
) -> np.ndarray:
    """Codes at ``steps`` evenly spaced distances from ``start`` to ``end`` (both included).

    ``wp``: ``[L, D]`` -> ``[steps, L, D]``; ``[N, L, D]`` -> ``[N, steps, L, D]``.
    """
    if steps < 1:
        raise ManipulationError(f"steps must be >= 1, got {steps}")
    frames = [independent_edit(wp, normal, float(d), layers, layer_scale) for d in np.linspace(start, end, steps)]
    return np.stack(frames, axis=-3)


# ----- conditional manipulation ----------------------------------------------------------
def conditional_normal(primal: np.ndarray, conditions: Sequence[np.ndarray]) -> np.ndarray:
    """Project ``primal`` orthogonal to every normal in ``conditions``; return it unit-length.

    ``primal`` and each condition: ``[D]`` or ``[1, D]``. Any number of conditions
    (InterFaceGAN's closed form handles two): the component of ``primal`` in the span of
    the conditions is found by least squares, so correlated or even linearly dependent
    conditions are fine. Returns float32 ``[D]`` (the input's shape for ``[1, D]``).
    Raises :class:`ManipulationError` if ``primal`` lies (almost) in that span.
    """
    p = np.asarray(primal, dtype=np.float64)
    shape = p.shape
    p = p.reshape(-1)
    if not conditions:
        return unit(p).reshape(shape)
    c = np.stack([np.asarray(x, dtype=np.float64).reshape(-1) for x in conditions], axis=1)
    if c.shape[0] != p.shape[0]:
        raise ManipulationError(f"condition normals have {c.shape[0]} dimensions, the primal normal has {p.shape[0]}")
    coeffs, *_ = np.linalg.lstsq(c, p, rcond=None)
    residual = p - c @ coeffs
    if np.linalg.norm(residual) < 1e-6 * max(float(np.linalg.norm(p)), 1e-12):
        raise ManipulationError(
            "the normal lies in the span of the normals it is conditioned on; nothing is left after projection"
        )
    return unit(residual).reshape(shape)


def conditional_layer_normals(primal: np.ndarray, conditions: Sequence[np.ndarray], num_layers: int) -> np.ndarray:
    """Layer-wise :func:`conditional_normal`: each normal ``[D] / [1, D] / [L, D]``.

    Returns float32 ``[L, D]``: at layer ``l`` the primal's normal there projected
    orthogonal to every condition's normal there.
    """
    p = layer_normals(primal, num_layers)
    cs = [layer_normals(c, num_layers) for c in conditions]
    if not cs:
        return np.stack([unit(p[layer]) for layer in range(num_layers)])
    # A shared normal is projected once, not L times.
    if all(np.array_equal(x, x[:1].repeat(num_layers, 0)) for x in [p, *cs]):
        row = conditional_normal(p[0], [c[0] for c in cs])
        return np.repeat(row[None], num_layers, axis=0)
    return np.stack([conditional_normal(p[layer], [c[layer] for c in cs]) for layer in range(num_layers)])


# ----- jitter ----------------------------------------------------------------------------
def gaussian_jitter(
    wp: np.ndarray,
    layers: Sequence[int],
    strength: float,
    seed: int,
    layer_scale: np.ndarray | None = None,
) -> np.ndarray:
    """Add ``strength * scale[l] * e`` to ``layers``, ``e ~ N(0, I_D)`` drawn from ``seed``.

    One draw ``e [D]`` is shared by all chosen layers (and all codes of a batch), so a
    mapped code that was one ``w`` on those layers stays one ``w``. The draw uses
    ``np.random.RandomState(seed)``, whose stream numpy keeps stable across versions.
    Other layers are bit-for-bit unchanged. ``wp``: ``[L, D]`` or ``[N, L, D]``.
    """
    codes, single = _as_codes(wp)
    num_layers, dim = codes.shape[1:]
    layer_list = check_layers(layers, num_layers, what="jitter")
    if not np.isfinite(strength):
        raise ManipulationError(f"jitter strength must be finite, got {strength}")
    scale = np.ones(num_layers, np.float32) if layer_scale is None else np.asarray(layer_scale, np.float32)
    noise = np.random.RandomState(int(seed) % 2**32).standard_normal(int(dim)).astype(np.float32)
    for layer in layer_list:
        codes[:, layer] = codes[:, layer] + (np.float32(strength) * scale[layer]) * noise
    return _restore(codes, single)


def style_mix(wp: np.ndarray, donor_wp: np.ndarray, layers: Sequence[int], amount: float = 1.0) -> np.ndarray:
    """Replace ``layers`` of ``wp`` by ``(1 - amount) * wp + amount * donor_wp``.

    ``wp``: ``[L, D]`` or ``[N, L, D]``; ``donor_wp``: ``[L, D]`` (or matching ``wp``).
    ``amount`` in [0, 1]; 1 copies the donor's layers exactly. Other layers unchanged.
    """
    codes, single = _as_codes(wp)
    num_layers, dim = codes.shape[1:]
    donor = np.asarray(donor_wp, dtype=np.float32)
    if donor.shape not in ((num_layers, dim), codes.shape):
        raise ManipulationError(f"donor code must be [{num_layers}, {dim}], got {list(donor.shape)}")
    if not 0.0 <= amount <= 1.0:
        raise ManipulationError(f"style-mix amount must be in [0, 1], got {amount}")
    layer_list = check_layers(layers, num_layers, what="jitter")
    if donor.ndim == 2:
        donor = donor[None]
    a = np.float32(amount)
    for layer in layer_list:
        codes[:, layer] = (np.float32(1) - a) * codes[:, layer] + a * donor[:, layer]
    return _restore(codes, single)


# ----- distances -------------------------------------------------------------------------
def distance_from_hyperplane(
    wp: np.ndarray, normal: np.ndarray, layer: int = 0, intercept: float | None = None
) -> np.ndarray | float:
    """Signed distance of a code from a concept's boundary, in units of the unit normal.

    The boundary is ``{x : n . x + b = 0}`` with ``|n| = 1`` (``b`` = ``intercept`` of the
    unit normal, i.e. the SVM's intercept divided by the norm of its raw weight vector).
    Without an intercept the hyperplane through the origin is used, i.e. the signed
    projection ``n . x`` -- which is what InterFaceGAN's ``linear_interpolate`` does.
    ``wp``: ``[L, D]`` -> float; ``[N, L, D]`` -> ``[N]``. Measured at ``layer``.
    """
    codes, single = _as_codes(wp)
    n = layer_normals(normal, codes.shape[1])[layer].astype(np.float64)
    dist = codes[:, layer].astype(np.float64) @ n + (0.0 if intercept is None else float(intercept))
    return float(dist[0]) if single else dist


def offset_to_reach(
    wp: np.ndarray, normal: np.ndarray, target: float, layer: int = 0, intercept: float | None = None
) -> np.ndarray | float:
    """The offset distance that puts the code at ``target`` from the hyperplane.

    InterFaceGAN's "distance from the hyperplane" mode: an edit with
    ``distance = offset_to_reach(wp, n, target)`` moves a code (with unit step scale) to
    signed distance ``target``. ``wp``: ``[L, D]`` -> float; ``[N, L, D]`` -> ``[N]``.
    """
    return target - distance_from_hyperplane(wp, normal, layer, intercept)
