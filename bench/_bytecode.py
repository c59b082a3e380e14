"""Compile gitml's bytecode before measuring, as a wheel install does.

The peers (MLflow, DVC) come from wheels whose modules pip compiled at install time. An
editable install of gitml compiles its modules on first import, unless the environment
forbids writing bytecode (``PYTHONDONTWRITEBYTECODE=1``): then every ``gitml`` process
would compile them again, a cost no installed user pays. ``compileall`` writes them once.
"""

from __future__ import annotations

import compileall
import os
import sys
from pathlib import Path


def compile_gitml() -> None:
    package = Path(__file__).resolve().parent.parent / "gitml"
    compileall.compile_dir(str(package), quiet=1)
    if os.environ.get("PYTHONDONTWRITEBYTECODE"):
        print("(PYTHONDONTWRITEBYTECODE is set: gitml's bytecode was compiled first, as a "
              "wheel install does)", file=sys.stderr)
