"""Checkpoints as ``.npz`` archives that load without executing code.

An archive holds ``param:NAME`` for each parameter, ``optim:KEY`` for each entry of an
optimizer's :meth:`~tensorc.nn.optim.Optimizer.state_dict`, and ``meta``, a JSON string
stored as a 0-d Unicode array. :func:`load` opens it with ``allow_pickle=False``, so an
archive carrying pickled object arrays is refused rather than unpickled.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

PARAM = "param:"
OPTIM = "optim:"
META = "meta"


@dataclass
class Checkpoint:
    """What :func:`load` returns: parameters, optimizer state (maybe empty), metadata."""

    params: dict[str, np.ndarray]
    optimizer_state: dict[str, np.ndarray] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)


def save(
    path: str | os.PathLike,
    params: Mapping[str, np.ndarray],
    optimizer_state: Mapping[str, np.ndarray] | None = None,
    meta: Mapping[str, Any] | None = None,
) -> Path:
    """Write parameters, optimizer state and JSON metadata to ``path`` (an ``.npz``).

    The file is written to a temporary name first and then renamed, so an interrupted
    save never leaves a truncated checkpoint behind. Returns the path written.

    >>> import numpy as np, tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "ck.npz")
    >>> _ = save(p, {"W": np.ones((2, 2))}, meta={"epoch": 3})
    >>> load(p).meta
    {'epoch': 3}
    """
    path = Path(path)
    arrays = {PARAM + k: _plain(k, v) for k, v in params.items()}
    arrays.update({OPTIM + k: _plain(k, v) for k, v in (optimizer_state or {}).items()})
    arrays[META] = np.array(json.dumps(dict(meta or {}), default=_json_default))
    fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent or ".")
    try:
        with os.fdopen(fd, "wb") as handle:
            np.savez(handle, **arrays)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
    return path


def load(path: str | os.PathLike) -> Checkpoint:
    """Read a checkpoint written by :func:`save`; never unpickles anything.

    Raises ``ValueError`` naming the file if it is not an ``.npz`` archive, holds an
    object (pickled) array, or lacks the metadata entry.

    >>> import numpy as np, tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "ck.npz")
    >>> _ = save(p, {"b": np.zeros(3, np.float32)})
    >>> load(p).params["b"].dtype
    dtype('float32')
    """
    arrays = _read_npz(path)
    if META not in arrays:
        raise ValueError(f"{path}: not a tensorc checkpoint (no {META!r} entry)")
    return Checkpoint(
        params=_strip(arrays, PARAM),
        optimizer_state=_strip(arrays, OPTIM),
        meta=json.loads(str(arrays[META])),
    )


def _read_npz(path: str | os.PathLike) -> dict[str, np.ndarray]:
    try:
        archive = np.load(path, allow_pickle=False)
        if not isinstance(archive, np.lib.npyio.NpzFile):
            raise ValueError(f"{path}: a single .npy array, not an .npz checkpoint")
        with archive:
            return {name: archive[name] for name in archive.files}
    except (zipfile.BadZipFile, EOFError) as err:
        raise ValueError(f"{path}: not a readable .npz checkpoint ({err})") from err
    except ValueError as err:
        raise ValueError(f"{path}: refused to load ({err})") from err


def _plain(name: str, value: Any) -> np.ndarray:
    array = np.asarray(value)
    if array.dtype.hasobject:
        raise TypeError(f"{name!r} is an object array; checkpoints hold plain arrays only")
    return array


def _strip(arrays: Mapping[str, np.ndarray], prefix: str) -> dict[str, np.ndarray]:
    return {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}


def _json_default(value: Any) -> Any:
    if isinstance(value, (np.generic, np.ndarray)):
        return value.tolist()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise TypeError(f"metadata value {value!r} of type {type(value).__name__} is not JSON")
