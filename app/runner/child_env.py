"""The environment Hearth gives the programs it starts.

A frozen (PyInstaller) Hearth runs with ``LD_LIBRARY_PATH`` pointing into
its own bundle, which holds its own libstdc++, Qt, OpenSSL and so on; the
bootloader saves what the user had in ``LD_LIBRARY_PATH_ORIG`` (absent
when there was nothing). A child that inherits the bundle's path loads
those libraries instead of its own: ``xdg-open`` starting a file manager,
``nvidia-smi``, or a GPU llama-server linked against the system's CUDA.
So every child gets the user's original path back. llama-server and
ggml-rpc-server also get their own folder in front: their RUNPATH
(``$ORIGIN``) already finds it, but a build from elsewhere
(``HEARTH_LLAMA_SERVER``, an old cache) may lack one.

Outside a frozen Hearth both functions change nothing but a copy.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

LIBRARY_PATH = "LD_LIBRARY_PATH"
SAVED_BY_PYINSTALLER = "LD_LIBRARY_PATH_ORIG"


def is_frozen() -> bool:
    return bool(getattr(sys, "frozen", False))


def foreign_child_env(
    base: Mapping[str, str] | None = None, frozen: bool | None = None
) -> dict[str, str]:
    """A copy of ``base`` (``os.environ``) with the user's own ``LD_LIBRARY_PATH``.

    For programs that are not Hearth's (``xdg-open``, ``nvidia-smi``).
    """
    env = dict(os.environ if base is None else base)
    if not (is_frozen() if frozen is None else frozen) or sys.platform != "linux":
        return env
    original = env.pop(SAVED_BY_PYINSTALLER, None)
    if original:
        env[LIBRARY_PATH] = original
    else:
        env.pop(LIBRARY_PATH, None)
    return env


def own_child_env(
    binary: Path, base: Mapping[str, str] | None = None, frozen: bool | None = None
) -> dict[str, str]:
    """The environment for llama-server or ggml-rpc-server at ``binary``.

    The user's ``LD_LIBRARY_PATH`` (a system CUDA may be found there) with
    the binary's own folder first; never the bundle's Python-side libraries.
    """
    env = foreign_child_env(base, frozen)
    if not (is_frozen() if frozen is None else frozen) or sys.platform != "linux":
        return env
    parts = [str(binary.parent), *filter(None, env.get(LIBRARY_PATH, "").split(os.pathsep))]
    env[LIBRARY_PATH] = os.pathsep.join(dict.fromkeys(parts))
    return env
