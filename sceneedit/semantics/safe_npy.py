"""Read ``.npy`` files from strangers without running code from them.

Plain numeric arrays are read with ``allow_pickle=False``. Object arrays (NumPy stores
them as a pickle, e.g. HiGAN's ``{'boundary': ..., 'meta_data': {...}}`` boundary files)
go through :class:`NpyUnpickler`, which resolves only the few NumPy globals needed to
rebuild arrays, dtypes and scalars; every other global (``os.system``, ``builtins.eval``,
...) is refused before anything is called. ``np.load(allow_pickle=True)`` is never used.
"""

from __future__ import annotations

import io
import pickle
import pickletools
import re
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import MissingFileError, SceneeditError

#: Refuse boundary-sized files above this (a boundary is a few KB; this is generous).
MAX_FILE_BYTES = 256 * 1024 * 1024
#: Most elements one reconstructed array may ask for (guards memory against crafted files).
MAX_ELEMENTS = 1 << 22  # 4 M elements (32 MB of float64); a boundary holds a few thousand

# dtype descriptors we rebuild: numbers, booleans and object ('O8' is how NumPy pickles
# the object dtype). No strings with field specs, no void types with code attached.
_DTYPE_DESCR = re.compile(r"^[<>|=]?(b1|[biuf][1248]|f16|c8|c16|c32|O8?|\?)$")


def npy_error_reason(exc: BaseException) -> str:
    """One short line on why ``np.load(path, allow_pickle=False)`` failed.

    NumPy answers any file without the ``.npy`` header (a text file, say) with advice to
    load it unsafely; a user needs to hear that it is not a plain array, not that advice.
    """
    text = " ".join(str(exc).split())
    if "pickled" in text:
        return "no .npy array header, or pickled objects, which are never loaded"
    return text or type(exc).__name__


class UnsafeNpyError(SceneeditError, ValueError):
    """The file is not a plain array and asks for something beyond arrays and containers."""


class NpyFileError(SceneeditError, ValueError):
    """The file is not a readable ``.npy`` array (empty, corrupt, truncated or too large); names the file."""


def _reconstruct(subtype: Any, shape: Any, dtype: Any) -> np.ndarray:
    """Safe stand-in for ``numpy._core.multiarray._reconstruct`` (array skeleton)."""
    if subtype is not np.ndarray:
        raise UnsafeNpyError(f"refused array subtype {subtype!r}: only numpy.ndarray is allowed")
    if not isinstance(shape, tuple) or not all(isinstance(s, int) and 0 <= s for s in shape):
        raise UnsafeNpyError(f"refused array shape {shape!r}")
    if int(np.prod(shape, dtype=object)) > MAX_ELEMENTS:
        raise UnsafeNpyError(f"refused array shape {shape!r}: too many elements")
    if dtype not in (b"b", "b"):
        raise UnsafeNpyError(f"refused array skeleton dtype {dtype!r}")
    return np.ndarray.__new__(np.ndarray, shape, np.dtype("b"))


def _dtype(descr: Any, align: Any = False, copy: Any = False) -> np.dtype:
    """Safe stand-in for ``numpy.dtype``: numeric, boolean and object descriptors only."""
    if not isinstance(descr, str) or not _DTYPE_DESCR.match(descr):
        raise UnsafeNpyError(f"refused dtype descriptor {descr!r}")
    return np.dtype(descr, align=bool(align), copy=bool(copy))


def _scalar(dtype: Any, data: Any = None) -> Any:
    """Safe stand-in for ``numpy._core.multiarray.scalar`` (numeric scalars only)."""
    if not isinstance(dtype, np.dtype) or dtype.kind not in "biufc?":
        raise UnsafeNpyError(f"refused scalar of dtype {dtype!r}")
    if not isinstance(data, bytes) or len(data) != dtype.itemsize:
        raise UnsafeNpyError("refused scalar: malformed data")
    return np.frombuffer(data, dtype=dtype)[0]


_ALLOWED_GLOBALS: dict[tuple[str, str], Any] = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy.core.multiarray", "scalar"): _scalar,
    ("numpy._core.multiarray", "scalar"): _scalar,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): _dtype,
}


class NpyUnpickler(pickle.Unpickler):
    """Resolves only the NumPy globals needed for arrays, dtypes and numeric scalars."""

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise UnsafeNpyError(
                f"refused global {module}.{name}: the file asks to import code (a pickle "
                "that may try to execute something); only plain arrays, dicts, lists, "
                "strings and numbers are accepted"
            ) from None

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafeNpyError("refused persistent id in pickle")


#: Most values (containers, arrays, numbers, strings) one file may hold, counting each
#: time a shared object is reached again: a few KB of pickle can reference one list from
#: itself millions of times over.
MAX_NODES = 200_000
MAX_DEPTH = 32


def _check_plain(value: Any) -> None:
    """Only arrays of numbers, dicts, lists, tuples, strings, numbers, bools, None; at most
    :data:`MAX_DEPTH` levels and :data:`MAX_NODES` values visited (iterative: no recursion)."""
    stack: list[tuple[str, Any, int]] = [("value", value, 0)]
    visited = 0
    while stack:
        where, item, depth = stack.pop()
        visited += 1
        if visited > MAX_NODES:
            raise UnsafeNpyError(f"refused: more than {MAX_NODES:,} values (shared references fanning out?)")
        if depth > MAX_DEPTH:
            raise UnsafeNpyError("refused: nesting too deep")
        if item is None or isinstance(item, (bool, int, float, str, bytes, np.generic)):
            continue
        if isinstance(item, np.ndarray):
            if item.dtype.kind == "O":
                if item.size > MAX_NODES:
                    raise UnsafeNpyError(f"refused {where}: object array of {item.size:,} items")
                stack.extend((f"{where}[{i}]", x, depth + 1) for i, x in enumerate(item.flat))
            elif item.dtype.kind not in "biufc?":
                raise UnsafeNpyError(f"refused {where}: array of dtype {item.dtype}")
            continue
        if isinstance(item, dict):
            for key, x in item.items():
                if not isinstance(key, (str, int)):
                    raise UnsafeNpyError(f"refused {where}: dict key of type {type(key).__name__}")
                stack.append((f"{where}[{str(key)[:40]!r}]", x, depth + 1))
            continue
        if isinstance(item, (list, tuple)):
            stack.extend((f"{where}[{i}]", x, depth + 1) for i, x in enumerate(item))
            continue
        raise UnsafeNpyError(f"refused {where}: object of type {type(item).__name__}")


def _read_header(stream: io.BytesIO, path: Path) -> tuple[tuple[int, ...], bool, np.dtype]:
    """The ``.npy`` header of ``stream`` (positioned at the start); ValueError naming ``path``
    for anything malformed (NumPy's parser raises several types, ``tokenize.TokenError`` too)."""
    head = stream.getvalue()[:6]
    if not head:
        raise NpyFileError(f"{path}: not a readable .npy file (the file is empty)")
    if head != b"\x93NUMPY":
        raise NpyFileError(f"{path}: not a readable .npy file (no .npy array header)")
    try:
        version = np.lib.format.read_magic(stream)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(stream)
        elif version in ((2, 0), (3, 0)):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(stream)
        else:
            raise ValueError(f"unsupported .npy version {version}")
    except Exception as exc:  # noqa: BLE001 - any parse failure of a stranger's header
        reason = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise NpyFileError(f"{path}: not a readable .npy file ({reason})") from None
    return tuple(shape), bool(fortran), dtype


#: Largest pickle inside an object ``.npy`` (HiGAN's dict boundaries pickle a few KB).
MAX_PICKLE_BYTES = 16 * 1024 * 1024


def _check_pickle_opcodes(payload: bytes, path: Path) -> None:
    """Walk the pickle's opcodes without running them: every counted argument (bytes,
    strings) must fit in the file. The unpickler allocates a declared length *before*
    reading it, so a few bytes could otherwise ask for gigabytes."""
    if len(payload) > MAX_PICKLE_BYTES:
        raise NpyFileError(f"{path}: {len(payload)} bytes of pickled objects is too large for a boundary file")
    try:
        for _ in pickletools.genops(payload):
            pass
    except Exception as exc:  # noqa: BLE001 - pickletools raises several types for bad streams
        reason = " ".join(str(exc).split())[:200]
        raise NpyFileError(f"{path}: corrupt or truncated pickled .npy ({reason})") from None


def load_npy_array(path: str | Path, max_bytes: int | None = MAX_FILE_BYTES) -> np.ndarray:
    """Read a plain numeric ``.npy`` array (codes, boundaries) safely and with bounded cost.

    ``max_bytes`` (None: no limit, for code files) caps the file size. The header is checked
    before any data is read: a malformed header, a non-numeric dtype,
    or a declared size that the file does not hold is a ``ValueError`` naming the file.
    """
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"{path}: no such file")
    size = path.stat().st_size
    if max_bytes is not None and size > max_bytes:
        raise NpyFileError(f"{path}: {size} bytes is too large")
    data = path.read_bytes()
    stream = io.BytesIO(data)
    shape, fortran, dtype = _read_header(stream, path)
    if dtype.kind not in "biufc?" or dtype.hasobject or dtype.fields is not None or dtype.subdtype is not None:
        raise NpyFileError(f"{path}: not a plain numeric .npy array (dtype {dtype}; pickled objects are never loaded)")
    if any(not isinstance(n, int) or n < 0 for n in shape):
        raise NpyFileError(f"{path}: not a readable .npy file (invalid shape {str(shape)[:60]})")
    count = int(np.prod(shape, dtype=object)) if shape else 1
    if count * dtype.itemsize > len(data) - stream.tell():
        raise NpyFileError(
            f"{path}: header declares shape {list(shape)[:8]} ({count:,} values), "
            "more than the file holds (truncated or corrupt)"
        )
    try:
        array = np.frombuffer(data, dtype=dtype, count=count, offset=stream.tell())
        array = array.reshape(shape[::-1]).transpose() if fortran else array.reshape(shape)
    except ValueError as exc:
        raise NpyFileError(f"{path}: corrupt .npy array ({str(exc)[:200]})") from None
    return np.array(array)  # a writable copy in native layout


def load_npy_untrusted(path: str | Path) -> Any:
    """Read a ``.npy`` file safely.

    Returns the array for numeric files; for object arrays holding one element (the usual
    ``np.save(path, some_dict)``) returns that element (a dict, list, ...), otherwise the
    object array. Raises :class:`UnsafeNpyError` for pickles that ask for code, and
    ``ValueError`` naming the file for anything corrupt.
    """
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"{path}: no such file")
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise NpyFileError(f"{path}: {size} bytes is too large for a boundary file")
    data = path.read_bytes()
    stream = io.BytesIO(data)
    shape, fortran, dtype = _read_header(stream, path)
    if dtype.kind != "O":
        return load_npy_array(path)
    _check_pickle_opcodes(data[stream.tell() :], path)
    try:
        array = NpyUnpickler(stream).load()
    except UnsafeNpyError as exc:
        raise UnsafeNpyError(f"{path}: {exc}") from exc
    except Exception as exc:
        raise NpyFileError(f"{path}: corrupt or truncated pickled .npy ({type(exc).__name__}: {exc})") from exc
    if not isinstance(array, np.ndarray):
        raise UnsafeNpyError(f"{path}: the pickle holds a {type(array).__name__}, not an array")
    try:
        _check_plain(array)
    except UnsafeNpyError as exc:
        raise UnsafeNpyError(f"{path}: {exc}") from exc
    if array.shape != tuple(shape):
        raise NpyFileError(f"{path}: header says shape {tuple(shape)}, pickle holds {array.shape}")
    if array.size == 1:
        return array.reshape(()).item() if array.ndim else array[()]
    return array
