"""``sheetgen fonts path`` and ``sheetgen fonts install [--user]``: the bundled fonts, for the
people and programs that want them outside sheetgen (see :mod:`sheetgen.rendering.system_fonts`)."""

from __future__ import annotations

from typing import Annotated

import typer

fonts_app = typer.Typer(
    name="fonts",
    help="Where the bundled fonts are; install them for Word and other programs.",
    no_args_is_help=True,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)

JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]


@fonts_app.command("path")
def path_command(as_json: JsonOption = False) -> None:
    """Print the folder of the bundled fonts (with --json: each font's file and family)."""
    from sheetgen.cli.output import emit_json
    from sheetgen.rendering.docx.fonts import FAMILIES
    from sheetgen.resources import FONT_FILES, fonts_dir

    folder = fonts_dir().resolve()
    if not as_json:
        print(folder)
        return
    emit_json({"ok": True, "folder": str(folder), "fonts": [
        {"role": role, "family": FAMILIES[role][0], "file": name, "path": str(folder / name)}
        for role, name in FONT_FILES.items() if (folder / name).is_file()]})


@fonts_app.command("install")
def install_command(
    user: Annotated[bool, typer.Option(
        "--user", help="Install for you alone (no root needed), not for every user.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Copy the bundled fonts and their licence into a font folder; refresh fontconfig.

    Prints the folder. Running it again changes nothing.
    """
    from sheetgen.cli.output import emit_json, json_errors, say
    from sheetgen.rendering.system_fonts import install

    with json_errors(as_json):
        done = install(user=user)
    if as_json:
        emit_json(done.as_dict())
    else:
        print(done.folder)
    count = len(done.written)
    say(f"已安装 {count} 个文件 / installed {count} file(s) into {done.folder}"
        + (f" ({len(done.unchanged)} already there)" if done.unchanged else ""))
    if done.refreshed is None:
        say("no fontconfig (fc-cache) here: programs may need a restart to see the fonts")
    elif not done.refreshed:
        say(f"warning: fc-cache failed ({done.refresh_error}); run `fc-cache -f` yourself")
