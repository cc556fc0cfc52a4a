"""The core is pure: importing it loads none of the I/O frameworks (DESIGN §2, STYLE)."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import correlator.core

FORBIDDEN = ("faust", "aiokafka", "textual", "sqlmodel", "sqlalchemy", "mode", "asyncio")


def test_importing_every_core_module_loads_no_io_framework() -> None:
    modules = [f"correlator.core.{m.name}" for m in pkgutil.iter_modules(correlator.core.__path__)]
    assert "correlator.core.engine" in modules and "correlator.core.evaluator" in modules
    code = (
        "import sys\n"
        + "".join(f"import {m}\n" for m in modules)
        + f"print(sorted(m for m in {FORBIDDEN!r} if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
