"""Environment checks behind ``sheetgen doctor``: what works, what is missing, what to do.

Each check returns a :class:`Check`; required ones decide the exit status. Checks import the
engines they test lazily, so a broken system library is reported, not raised.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    required: bool
    detail: str
    fix: str = ""

    def as_dict(self) -> dict[str, object]:
        return {"name": self.name, "ok": self.ok, "required": self.required,
                "detail": self.detail, "fix": self.fix}


APT_HINT = "apt-get install -y {}"


def check_weasyprint() -> Check:
    try:
        import weasyprint
    except (OSError, ImportError) as exc:  # missing Pango/GLib shared libraries
        return Check("weasyprint", False, True, f"cannot load WeasyPrint: {exc}",
                     APT_HINT.format("libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz0b"))
    return Check("weasyprint", True, True, f"WeasyPrint {weasyprint.__version__}")


def check_harfbuzz_subset() -> Check:
    try:
        from weasyprint.text.ffi import harfbuzz_subset
    except (OSError, ImportError) as exc:
        return Check("harfbuzz-subset", False, True, f"cannot load WeasyPrint: {exc}")
    if harfbuzz_subset is None:
        return Check("harfbuzz-subset", False, True,
                     "HarfBuzz subsetter missing: WeasyPrint falls back to fontTools and every "
                     "PDF takes about 20x longer", APT_HINT.format("libharfbuzz-subset0"))
    return Check("harfbuzz-subset", True, True, "libharfbuzz-subset found")


def check_fonts() -> Check:
    from sheetgen.rendering import fonts

    try:
        report = fonts.self_check()
    except Exception as exc:  # any unreadable or truncated font file
        return Check("fonts", False, True, f"bundled fonts unusable: {exc}",
                     "reinstall sheetgen (pip install --force-reinstall sheetgen)")
    return Check("fonts", True, True, report)


def check_libreoffice() -> Check:
    exe = shutil.which("soffice") or shutil.which("libreoffice")
    if exe is None:
        return Check("libreoffice", False, False,
                     "LibreOffice not found (only needed to check DOCX output page counts)",
                     APT_HINT.format("libreoffice-writer-nogui"))
    return Check("libreoffice", True, False, exe)


CHECKS: tuple[Callable[[], Check], ...] = (
    check_weasyprint, check_harfbuzz_subset, check_fonts, check_libreoffice)


def run_checks() -> list[Check]:
    """Run every check, in order."""
    return [check() for check in CHECKS]
