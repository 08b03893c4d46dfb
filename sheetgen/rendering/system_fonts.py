"""The bundled fonts on the user's system: where they are, installing them, whether they show.

The Word files carry subsets of the fonts they print (:mod:`sheetgen.rendering.docx.fonts`), so
they print the same without any font installed. Someone who *edits* a sheet types characters
the subset may lack, and other programs (a form, a spreadsheet) may want the same faces: for
them ``sheetgen fonts install`` copies the bundled fonts, with their licence, into a font
folder and refreshes fontconfig (``fc-cache``) where there is one, and ``sheetgen doctor``
says whether the system's font configuration sees them.

Font folders: ``~/.local/share/fonts/sheetgen`` (``$XDG_DATA_HOME``) for the user and
``/usr/local/share/fonts/sheetgen`` for everyone on Linux and other fontconfig systems;
``~/Library/Fonts`` and ``/Library/Fonts`` on macOS. Windows registers fonts in the registry
besides copying them, which this module does not do: there it says how to install them by
hand (right-click → 安装 / Install in the folder ``sheetgen fonts path`` prints).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from sheetgen.errors import UsageError
from sheetgen.output import write_atomic
from sheetgen.rendering.docx.fonts import FAMILIES
from sheetgen.resources import FONT_FILES, fonts_dir

#: The licence file that travels with the fonts (SIL OFL 1.1 asks every copy to carry it).
LICENCE = "OFL.txt"
#: fc-cache on a big font folder can take a while; it is a courtesy, never a hang.
FC_TIMEOUT = 120


@dataclass(frozen=True)
class Installed:
    """What ``fonts install`` did: the folder, the files written or already there, and
    whether fontconfig's cache was refreshed (None: no fc-cache on this system)."""

    folder: Path
    written: tuple[str, ...]
    unchanged: tuple[str, ...]
    refreshed: bool | None
    refresh_error: str = ""

    def as_dict(self) -> dict[str, object]:
        return {"ok": True, "folder": str(self.folder), "written": list(self.written),
                "unchanged": list(self.unchanged), "fc_cache": self.refreshed,
                "fc_cache_error": self.refresh_error}


def bundled_files() -> list[Path]:
    """The bundled font files present (the heading face is optional), then the licence."""
    folder = fonts_dir()
    found = [folder / name for name in FONT_FILES.values() if (folder / name).is_file()]
    return [*found, folder / LICENCE] if (folder / LICENCE).is_file() else found


def font_folder(*, user: bool) -> Path:
    """Where ``fonts install`` puts the fonts (``--user``: the user's own folder)."""
    if sys.platform == "win32":
        raise UsageError(
            "sheetgen cannot register fonts on Windows; open the folder that `sheetgen fonts "
            "path` prints and choose 安装 / Install on each .ttf file",
            hint="the Word files print the same without them: they carry their fonts")
    home = Path.home()
    if sys.platform == "darwin":
        return home / "Library" / "Fonts" if user else Path("/Library/Fonts")
    if user:
        data = os.environ.get("XDG_DATA_HOME") or str(home / ".local" / "share")
        return Path(data) / "fonts" / "sheetgen"
    return Path("/usr/local/share/fonts/sheetgen")


def install(*, user: bool) -> Installed:
    """Copy the bundled fonts and their licence into the font folder; refresh fontconfig.

    Files already there with the same bytes are left as they are, so running it again does
    nothing. Raises UsageError if the folder cannot be written (the system folder needs
    root: ``--user`` is the way without).
    """
    folder = font_folder(user=user)
    written, unchanged = [], []
    for source in bundled_files():
        target = folder / source.name
        data = source.read_bytes()
        try:
            same = target.is_file() and target.read_bytes() == data
        except OSError:
            same = False
        if same:
            unchanged.append(source.name)
            continue
        try:
            write_atomic(target, data)
        except UsageError as exc:
            raise UsageError(f"{exc.message}", hint=None if user else
                             "installing for every user needs root; "
                             "`sheetgen fonts install --user` installs for you alone") from None
        written.append(source.name)
    refreshed, error = refresh_fontconfig(folder)
    return Installed(folder, tuple(written), tuple(unchanged), refreshed, error)


def refresh_fontconfig(folder: Path) -> tuple[bool | None, str]:
    """Run ``fc-cache`` on ``folder``: (True, "") when done, (None, "") without fontconfig,
    (False, why) when it failed (the fonts are installed all the same)."""
    fc_cache = shutil.which("fc-cache")
    if fc_cache is None:
        return None, ""
    try:
        proc = subprocess.run([fc_cache, "-f", str(folder)], capture_output=True, text=True,
                              timeout=FC_TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, str(exc)
    if proc.returncode != 0:
        return False, (proc.stderr.strip() or f"exit {proc.returncode}")[:200]
    return True, ""


@dataclass(frozen=True)
class Visibility:
    """Which bundled families the system's font configuration lists, by family name;
    ``how`` says how it was found out (fontconfig, or the font folders)."""

    families: dict[str, bool]
    how: str

    @property
    def missing(self) -> list[str]:
        return [family for family, seen in self.families.items() if not seen]


def visibility() -> Visibility:
    """Whether other programs see the bundled fonts: fontconfig's ``fc-list`` where there is
    one, else the font folders ``fonts install`` writes to."""
    wanted = {family: False for role, (family, _) in FAMILIES.items()
              if (fonts_dir() / FONT_FILES[role]).is_file()}
    fc_list = shutil.which("fc-list")
    if fc_list is not None:
        try:
            proc = subprocess.run([fc_list, ":", "family"], capture_output=True, text=True,
                                  timeout=FC_TIMEOUT, check=False)
        except (OSError, subprocess.TimeoutExpired):
            proc = None
        if proc is not None and proc.returncode == 0:
            listed = {name.strip() for line in proc.stdout.splitlines()
                      for name in line.split(",")}
            return Visibility({family: family in listed for family in wanted}, "fontconfig")
    folders = []
    for user in (True, False):
        try:
            folders.append(font_folder(user=user))
        except UsageError:  # Windows: no folder of ours to look in
            break
    files = {role: FONT_FILES[role] for role in FAMILIES}
    present = {role: any((folder / name).is_file() for folder in folders)
               for role, name in files.items()}
    return Visibility({FAMILIES[role][0]: present[role] for role in FAMILIES
                       if FAMILIES[role][0] in wanted}, "font folders")
