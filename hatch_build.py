"""The wheel's build hook: ship ``sheetgen/_precompiled`` (precompiled layouts, parsed rules).

``tools/precompile.py`` compiles the layouts of the bundled templates and rules, and parses the
built-in rules editions, into the git-ignored folder ``sheetgen/_precompiled`` (``make setup``
runs it too, for the editable install, which reads that folder in place). Hatch leaves
git-ignored files out of a wheel, so this hook runs the tool (a no-op when the folder is up to
date) and adds the folder explicitly.

The tool needs sheetgen's own dependencies (WeasyPrint above all), which an isolated build
environment does not have: there a folder that ``make setup`` built is shipped as it is, with a
warning (at run time an entry is used only under the stamp it was built with), and without one
the wheel is built without it, with a warning, and still works (layouts are compiled and rules
parsed on first use, as before); ``SHEETGEN_REQUIRE_LAYOUTS=1`` makes either an error. pip hides
a build backend's output unless run with ``-v``, so the warning also goes to the terminal
itself (``/dev/tty``) when there is one: a plain ``pip wheel .`` says it plainly. Build
release wheels with ``make wheel`` (or ``pip wheel --no-build-isolation`` inside the project's
environment).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


def _warn(message: str) -> None:
    """A warning on stderr and, since pip captures that, on the terminal pip runs in."""
    text = f"WARNING: {message}\n"
    print(text, end="", file=sys.stderr, flush=True)
    try:
        with open("/dev/tty", "w", encoding="utf-8") as tty:  # noqa: PTH123
            tty.write(text)
    except OSError:
        pass  # no terminal (CI, a service): stderr, shown with pip -v, is all there is


class CustomBuildHook(BuildHookInterface):
    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel" or version == "editable":
            return  # an editable install reads sheetgen/_precompiled where it is
        root = Path(self.root)
        out = root / "sheetgen" / "_precompiled"
        built = subprocess.run([sys.executable, str(root / "tools" / "precompile.py"),
                                "--out", str(out)], cwd=root, check=False)
        if built.returncode != 0:
            message = ("sheetgen: the precompiled layouts and rules could not be built or "
                       "checked (is this an isolated build without sheetgen's dependencies? "
                       "use `make wheel`, or `pip wheel --no-build-isolation .` in an "
                       "environment with sheetgen installed)")
            if os.environ.get("SHEETGEN_REQUIRE_LAYOUTS") == "1":
                raise RuntimeError(message)
            if not (out / "layouts" / "index.json").is_file():
                _warn(f"{message}; the wheel makes them on first use instead (the first "
                      "fill takes about 2 s instead of 0.5 s)")
                return
            # What make setup built is shipped unchecked: sheetgen serves an entry only under
            # the engine stamp and file hashes it was built with, so a stale one costs space,
            # never a wrong page.
            _warn(f"{message}; shipping {out} as it is")
        build_data["force_include"][str(out)] = "sheetgen/_precompiled"
