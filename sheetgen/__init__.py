"""sheetgen: print-ready ICP filing check sheets (网站备案信息真实性核验单) from applicant JSON.

The package is a library first; ``sheetgen.cli`` is a thin Typer front end. Importing
``sheetgen`` stays cheap: it imports neither Typer nor the PDF/DOCX engines, which are
loaded inside the functions that use them.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
