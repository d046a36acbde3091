"""Endless streams of training images rendered by the procedural room world.

A *render function* is a top-level (picklable) callable
``render(seed: int, count: int, resolution: int)`` that is deterministic in its arguments and
returns either uint8 images ``[count, R, R, 3]`` or a pair ``(images, codes)`` where
``codes [count, K]`` float32 are the standard-normal factor codes the images were drawn from
(see :func:`sceneedit.scenes.factors_from_code`); codes make paired reconstruction possible.
Two streams consume one:

* :class:`RenderedStream` renders every batch in the training process, from consecutive
  seeds. Deterministic and exactly resumable (its state is the next seed), but the trainer
  waits for the renderer.
* :class:`PooledStream` keeps an in-memory pool of rendered images that background worker
  processes keep refreshing (oldest first); batches are drawn uniformly from the pool, so the
  trainer never waits. Its state on resume is only its seed: the pool is re-rendered.

Both return uint8 batches ``[N, R, R, 3]`` (``next_pairs``: with their codes);
:func:`to_training_tensor` converts them.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import signal
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

if TYPE_CHECKING:
    import torch  # the training process imports it; render workers never do

RenderResult = np.ndarray | tuple[np.ndarray, np.ndarray]
RenderFunction = Callable[[int, int, int], RenderResult]


def render_rooms(seed: int, count: int, resolution: int) -> tuple[np.ndarray, np.ndarray]:
    """``count`` procedural rooms and their factor codes, deterministic in ``seed``.

    Returns ``(images [count, R, R, 3] uint8, codes [count, FACTOR_CODE_DIMS] float32)``:
    each scene's factors are :func:`~sceneedit.scenes.factors_from_code` of its code, so the
    rooms follow exactly the world's factor distribution.
    """
    from ..scenes import FACTOR_CODE_DIMS, factors_from_code, render_batch

    rng = np.random.default_rng([int(seed), 0x5CE4E])
    codes = rng.standard_normal((count, FACTOR_CODE_DIMS)).astype(np.float32)
    detail_seeds = rng.integers(0, 2**31 - 1, size=count)
    factors = [factors_from_code(code, int(detail)) for code, detail in zip(codes, detail_seeds, strict=True)]
    images, _labels = render_batch(factors, resolution=resolution)
    return np.asarray(images), codes


def to_training_tensor(images: np.ndarray, device: torch.device, channels_last: bool) -> torch.Tensor:
    """uint8 ``[N, H, W, 3]`` -> float ``[N, 3, H, W]`` in [-1, 1] on ``device``."""
    import torch  # imported here so render workers never load torch

    if images.ndim != 4 or images.shape[3] != 3 or images.dtype != np.uint8:
        raise ValueError(f"expected uint8 images [N, H, W, 3], got {images.dtype} {list(images.shape)}")
    x = torch.from_numpy(np.ascontiguousarray(images)).to(device)
    x = x.permute(0, 3, 1, 2).float().mul_(1.0 / 127.5).sub_(1.0)  # NHWC storage = channels_last
    return x if channels_last else x.contiguous()


def check_rendered(result: RenderResult, count: int, resolution: int) -> tuple[np.ndarray, np.ndarray | None]:
    """A render function's result -> ``(images, codes or None)``, with clear errors."""
    codes = None
    if isinstance(result, tuple):
        if len(result) != 2:
            raise ValueError(f"render function returned a tuple of {len(result)}, expected (images, codes)")
        result, codes = result
        codes = np.asarray(codes, dtype=np.float32)
        if codes.ndim != 2 or codes.shape[0] != count:
            raise ValueError(f"render function returned codes {list(codes.shape)}, expected [{count}, K]")
    images = np.asarray(result)
    expected = (count, resolution, resolution, 3)
    if images.shape != expected or images.dtype != np.uint8:
        raise ValueError(
            f"render function returned {images.dtype} {list(images.shape)}, expected uint8 {list(expected)}"
        )
    return images, codes


class NoCodesError(ValueError):
    """Paired batches were asked of a stream whose render function returns no codes."""

    def __init__(self) -> None:
        super().__init__(
            "paired reconstruction needs a render function that returns (images, codes); "
            "this one returns images only (set the reconstruction weight to 0)"
        )


class ImageStream(Protocol):
    resolution: int

    def next_batch(self, n: int, rng: np.random.Generator) -> np.ndarray: ...

    def next_pairs(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...

    def stats(self) -> dict[str, float]: ...

    def close(self) -> None: ...


class RenderedStream:
    """Renders each batch in this process from consecutive seeds (exactly resumable)."""

    def __init__(self, render: RenderFunction, resolution: int, seed: int = 0) -> None:
        self.render = render
        self.resolution = resolution
        self.next_seed = int(seed) * 1_000_003
        self.rendered = 0

    def next_batch(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return self._render_next(n)[0]

    def next_pairs(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        images, codes = self._render_next(n)
        if codes is None:
            raise NoCodesError()
        return images, codes

    def _render_next(self, n: int) -> tuple[np.ndarray, np.ndarray | None]:
        result = check_rendered(self.render(self.next_seed, n, self.resolution), n, self.resolution)
        self.next_seed += 1
        self.rendered += n
        return result

    def state_dict(self) -> dict[str, Any]:
        return {"kind": "stream", "next_seed": self.next_seed}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("kind") == "stream":
            self.next_seed = int(state["next_seed"])

    def stats(self) -> dict[str, float]:
        return {"rendered": float(self.rendered)}

    def close(self) -> None:
        pass


def _worker_loop(
    render: RenderFunction, resolution: int, chunk: int, seed: int, requests: mp.Queue, out: mp.Queue, niceness: int
) -> None:
    """Render one chunk per request from ``requests`` into ``out``; ``None`` stops.

    Seeds come from a private sequence starting at ``seed``.
    """
    parent = os.getppid()
    _die_with_parent()
    try:
        os.nice(niceness)
    except OSError:
        pass
    counter = 0
    while True:
        try:
            request = requests.get(timeout=PARENT_CHECK_SECONDS)
        except queue.Empty:
            if os.getppid() != parent:  # the trainer died (killed): stop, release everything
                return
            continue
        if request is None:
            return
        out.put(check_rendered(render(seed + counter, chunk, resolution), chunk, resolution))  # (images, codes)
        counter += 1


#: How often an idle render worker checks that its trainer is still alive.
PARENT_CHECK_SECONDS = 1.0


def _die_with_parent() -> None:
    """Ask Linux to SIGKILL this worker when its parent dies (``PR_SET_PDEATHSIG``).

    Elsewhere (or if the call fails) the worker notices a new parent id within
    :data:`PARENT_CHECK_SECONDS` instead.
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass


class PooledStream:
    """An in-memory pool of rendered images, refreshed oldest-first by worker processes.

    ``pool_size`` images are rendered up front (in this process); ``workers`` background
    processes (0 = none: a fixed pool) then render chunks of ``chunk`` images at lower CPU
    priority. Rendering is demand-driven: for every image drawn, ``refresh_ratio`` fresh
    images are requested (at most a few chunks outstanding), so the workers take only the
    CPU the trainer's pace needs. ``next_batch`` swaps in whatever chunks are ready and never
    waits for them.
    """

    def __init__(
        self,
        render: RenderFunction,
        resolution: int,
        pool_size: int,
        seed: int = 0,
        workers: int = 1,
        chunk: int = 64,
        refresh_ratio: float = 1.0,
        niceness: int = 5,
        progress: Callable[[int, int], None] | None = None,
    ) -> None:
        if pool_size < 1:
            raise ValueError(f"pool_size must be >= 1, got {pool_size}")
        if refresh_ratio < 0:
            raise ValueError(f"refresh_ratio must be >= 0, got {refresh_ratio}")
        self.render = render
        self.resolution = resolution
        self.seed = int(seed)
        self.chunk = int(chunk)
        self.refresh_ratio = float(refresh_ratio)
        self.pool = np.empty((pool_size, resolution, resolution, 3), dtype=np.uint8)
        #: Factor codes of the pool's images ``[pool_size, K]``, or None (render gives none).
        self.codes: np.ndarray | None = None
        base = self.seed * 1_000_003
        filled = 0
        while filled < pool_size:
            n = min(chunk, pool_size - filled)
            images, codes = check_rendered(render(base + filled // chunk, n, resolution), n, resolution)
            self.pool[filled : filled + n] = images
            if codes is not None:
                if self.codes is None:
                    self.codes = np.zeros((pool_size, codes.shape[1]), dtype=np.float32)
                self.codes[filled : filled + n] = codes
            filled += n
            if progress is not None:
                progress(filled, pool_size)
        self.cursor = 0  # next (oldest) pool slot to overwrite
        self.refreshed = 0
        self._owed = 0.0  # fresh images owed to the pool, not yet requested
        self._outstanding = 0  # chunks requested, not yet received
        self._max_outstanding = 2 * max(workers, 1)
        self._started = time.perf_counter()
        self._requests = None
        self._results = None
        self._workers: list[mp.process.BaseProcess] = []
        if workers > 0:
            # fork is fast and safe here (workers use only numpy and Pillow, and start before
            # the trainer runs any other thread); spawn elsewhere.
            context = mp.get_context("fork") if sys.platform.startswith("linux") else mp.get_context("spawn")
            self._requests = context.Queue()
            self._results = context.Queue()
            for k in range(workers):
                worker_seed = base + (k + 1) * 100_000_000 + pool_size
                process = context.Process(
                    target=_worker_loop,
                    args=(render, resolution, chunk, worker_seed, self._requests, self._results, niceness),
                    daemon=True,
                    name=f"sceneedit-render-{k}",
                )
                process.start()
                self._workers.append(process)

    def _absorb_ready_chunks(self) -> None:
        size = len(self.pool)
        if self._results is None:  # no workers
            return
        while self._outstanding > 0:
            try:
                images, codes = self._results.get_nowait()
            except queue.Empty:
                return
            self._outstanding -= 1
            for i, image in enumerate(images):
                self.pool[self.cursor] = image
                if self.codes is not None and codes is not None:
                    self.codes[self.cursor] = codes[i]
                self.cursor = (self.cursor + 1) % size
            self.refreshed += len(images)

    def _request_chunks(self, drawn: int) -> None:
        if self._requests is None:  # no workers
            return
        self._owed += drawn * self.refresh_ratio
        while self._owed >= self.chunk and self._outstanding < self._max_outstanding:
            self._requests.put(1)
            self._outstanding += 1
            self._owed -= self.chunk
        # A backlog beyond the outstanding cap is dropped: the workers cannot keep up.
        self._owed = min(self._owed, float(self.chunk))

    def next_batch(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return self.pool[self._draw(n, rng)]

    def next_pairs(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        if self.codes is None:
            raise NoCodesError()
        index = self._draw(n, rng)
        return self.pool[index], self.codes[index]

    def _draw(self, n: int, rng: np.random.Generator) -> np.ndarray:
        if self._workers:
            self._absorb_ready_chunks()
            self._request_chunks(n)
        return rng.integers(0, len(self.pool), size=n)

    def state_dict(self) -> dict[str, Any]:
        return {"kind": "pool", "seed": self.seed}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass  # the pool is re-rendered on resume; nothing else to restore

    def stats(self) -> dict[str, float]:
        elapsed = max(time.perf_counter() - self._started, 1e-9)
        return {"refreshed": float(self.refreshed), "refresh_per_s": self.refreshed / elapsed}

    def close(self) -> None:
        if self._requests is not None:
            for _ in self._workers:
                self._requests.put(None)
        for process in self._workers:
            process.join(timeout=0.2)
        for process in self._workers:
            if process.is_alive():
                process.terminate()
                process.join(timeout=5)
        self._workers = []
        for q in (self._requests, self._results):
            if q is not None:
                q.cancel_join_thread()
                q.close()
        self._requests = self._results = None

    def __del__(self) -> None:  # best effort: never leave workers behind
        try:
            self.close()
        except Exception:
            pass
