"""Benchmark of the check sheets (issues 4 and 16): sheetgen vs Typst, vs the naive path.

Fills N generated applicants (one website each) through the library and, in the same run,
renders the same sheets with the Typst form of the default sheet (``bench/typst/sheet.typ``,
one reused compiler: :class:`bench.peers.TypstSheet`) and the naive path (Jinja2 → WeasyPrint
per record, values inline: ``bench/naive.py``). Prints issue 16's figures as ratios with their
goals, a profile of sheetgen's warm sheet by stage, and the floor (the libraries alone). Then
times whole ``sheetgen fill`` processes, with an empty layout cache (a first run, served by
the precompiled layouts the package ships) and a warm one, interleaved with whole Typst
processes (import, fonts, one compile); also, for reference, a first run that compiles its
layouts (``SHEETGEN_PRECOMPILED=off``).

    .venv/bin/python bench/bench.py [--records N] [--naive N] [--cold-runs N] [--cold-only]
                                    [--baseline DIR]

``--baseline DIR`` also times, in the same interleaved loop, the ``sheetgen fill`` of another
checkout (``git worktree add --detach /tmp/base main``), run as ``python -m sheetgen`` from it:
the before and after of a change, as ratios of one run.

Not part of the test suite: wall-clock figures are noisy on a shared machine; the sheetgen and
Typst figures are measured interleaved, and the ratios are what to compare between runs.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def interleaved(contenders: dict[str, Callable[[Any], Any]], items: Sequence[Any],
                rounds: int = 3) -> dict[str, float]:
    """Seconds per item of each contender, run in turns (``rounds`` times, best round kept)
    so that a noisy neighbour slows all of them alike."""
    best = dict.fromkeys(contenders, float("inf"))
    for _ in range(rounds):
        for name, render in contenders.items():
            started = time.perf_counter()
            for item in items:
                render(item)
            best[name] = min(best[name], (time.perf_counter() - started) / len(items))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=200, help="applicants to fill")
    parser.add_argument("--naive", type=int, default=40, help="of those, rendered naively too")
    parser.add_argument("--cold-runs", type=int, default=5)
    parser.add_argument("--cold-only", action="store_true",
                        help="only the cold `sheetgen fill` figures (no Typst warm runs)")
    parser.add_argument("--packet-only", action="store_true",
                        help="only the filing packet's figure (cover, sheet, two letters)")
    parser.add_argument("--baseline", type=Path, metavar="DIR",
                        help="another checkout whose cold fill is timed in the same loop")
    args = parser.parse_args()
    if args.cold_only:
        from bench import peers

        cold = cold_fill(args.cold_runs, peers.cold_typst, baseline=args.baseline)
        table(cold_figures(cold))
        return
    cache = tempfile.mkdtemp(prefix="sheetgen-bench-cache-")
    os.environ["SHEETGEN_CACHE_DIR"] = cache
    if args.packet_only:
        table([packet_figure(args.records)])
        return

    from bench import peers
    from bench.applicants import applicants
    from bench.naive import render_naive
    from sheetgen.documents.jobs import RenderOptions
    from sheetgen.documents.plan import make_plan
    from sheetgen.model import parse_applicant
    from sheetgen.rendering.pdf.document import render_pdf
    from sheetgen.rules import load_rules

    rules = load_rules()
    plans = [make_plan(parse_applicant(data, rules), rules)
             for data in applicants(rules, args.records)]
    public = [p for p in plans if p.variant == "public"]
    sheet, cover, no_qr = (RenderOptions(cover=False), RenderOptions(),
                           RenderOptions(cover=False, qr=False))
    typst = peers.TypstSheet()
    for plan in plans:  # compile every layout the records need, warm every cache
        render_pdf(plan, sheet)
        render_pdf(plan, cover)
    for plan in public[:3]:
        typst.render(plan)

    # Warm, per sheet, on the public records (the variant the Typst form models).
    warm = interleaved({
        "sheetgen": lambda p: render_pdf(p, sheet),
        "typst": lambda p: typst.render(p),
        "sheetgen no QR": lambda p: render_pdf(p, no_qr),
        "typst no QR": lambda p: typst.render(p, qr=False),
    }, public)
    all_sheets = interleaved({"sheetgen": lambda p: render_pdf(p, sheet),
                              "sheetgen + cover": lambda p: render_pdf(p, cover)}, plans,
                             rounds=2)
    sample = plans[:args.naive]
    render_naive(sample[0], sheet)
    naive = interleaved({"naive": lambda p: render_naive(p, sheet)}, sample, rounds=1)["naive"]
    sheet_kb = statistics.median(len(render_pdf(p, sheet).pdf) for p in plans) / 1024
    cover_kb = statistics.median(len(render_pdf(p, cover).pdf) for p in plans) / 1024
    typst_kb = statistics.median(len(typst.render(p)) for p in public) / 1024
    cold = cold_fill(args.cold_runs, peers.cold_typst, baseline=args.baseline)

    ms = 1000
    figures = [
        ("warm sheet, no cover, vs Typst (public records)",
         f"{warm['sheetgen'] * ms:.1f} ms", f"Typst {warm['typst'] * ms:.1f} ms",
         warm["sheetgen"] / warm["typst"], "≤ 0.6×", 0.6),
        ("  the same without QR", f"{warm['sheetgen no QR'] * ms:.1f} ms",
         f"Typst {warm['typst no QR'] * ms:.1f} ms",
         warm["sheetgen no QR"] / warm["typst no QR"], "", None),
        ("naive Jinja→WeasyPrint ÷ sheetgen (sheet)", f"{all_sheets['sheetgen'] * ms:.1f} ms",
         f"naive {naive * ms:.0f} ms", naive / all_sheets["sheetgen"], "≥ 20×", -20.0),
        ("one sheet PDF (--no-cover), median", f"{sheet_kb:.1f} KB", f"Typst {typst_kb:.1f} KB",
         sheet_kb / typst_kb, "≤ 45 KB", None, sheet_kb <= 45),
        ("cover + one sheet PDF, median", f"{cover_kb:.1f} KB",
         f"{all_sheets['sheetgen + cover'] * ms:.1f} ms", None, "≤ 100 KB", None,
         cover_kb <= 100),
        packet_figure(args.records),
        *cold_figures(cold),
    ]
    print(f"records: {len(plans)} (of them public: {len(public)}), one website each; "
          f"naive sample {len(sample)}")
    table(figures)

    print("\nprofile of sheetgen's warm sheet (no cover), per record, stage by stage:")
    stages = peers.profile(public, sheet)
    total = sum(seconds for _, seconds in stages)
    for label, seconds in [*stages, ("sum of the stages", total)]:
        print(f"  {label:<44} {seconds * ms:6.2f} ms")
    print("floor, per sheet (the libraries the path uses, alone):")
    for label, seconds in peers.floor(public[0]):
        print(f"  {label:<44} {seconds * ms:6.2f} ms")
    print(f"  {'Typst, warm sheet (for scale)':<44} {warm['typst'] * ms:6.2f} ms")
    print(f"\npeak RSS of this process: "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


def packet_figure(count: int) -> tuple[Any, ...]:
    """Issue 23: the warm render of a filing packet (the cover, the sheet and two letters: a
    Hunan unit filing another website whose manager is not the legal representative gets the
    网站负责人授权书 and the 网站建设方案书) per page, against the cover and the sheet alone of
    the same applicants per page (goal ≤ 1.5×)."""
    from bench.applicants import applicants
    from sheetgen.documents.jobs import RenderOptions
    from sheetgen.documents.plan import make_plan
    from sheetgen.model import parse_applicant
    from sheetgen.rendering.pdf.document import render_pdf
    from sheetgen.rules import load_rules

    rules = load_rules()
    packets, alone = [], []
    for data in applicants(rules, count * 4):
        if data["host"]["nature"] == "personal" or len(packets) == count:
            continue
        data["province"], data["filing_type"] = "湖南", "new_website"
        data["websites"][0].pop("filing_number", None)
        data["websites"][0]["domains"] = data["websites"][0]["domains"][:1]
        manager = data["websites"][0]["manager"]
        other = "李" if manager["name"][0] != "李" else "赵"
        data["host"]["legal_representative"] = {
            "name": other + manager["name"][1:], "certificate": manager["certificate"]}
        plan = make_plan(parse_applicant(data, rules), rules)
        packets.append(plan)
        del data["host"]["legal_representative"]
        data["filing_type"] = "new_filing"
        alone.append(make_plan(parse_applicant(data, rules), rules))
    options = RenderOptions()
    pages = {"packet": sum(render_pdf(p, options).pages for p in packets),  # warms too
             "cover + sheet": sum(render_pdf(p, options).pages for p in alone)}
    seconds = interleaved({"packet": lambda pair: render_pdf(pair[0], options),
                           "cover + sheet": lambda pair: render_pdf(pair[1], options)},
                          list(zip(packets, alone, strict=True)))
    packet = seconds["packet"] * len(packets) / pages["packet"]
    base = seconds["cover + sheet"] * len(alone) / pages["cover + sheet"]
    return (f"packet (cover, sheet, 2 letters) per page, {len(packets)} units",
            f"{packet * 1000:.1f} ms/page", f"cover + sheet {base * 1000:.1f} ms/page",
            packet / base, "≤ 1.5×", 1.5)


def table(figures: Sequence[tuple[Any, ...]]) -> None:
    """Print figures: label, sheetgen, reference, ratio, goal, and whether the goal is met.

    A row's sixth item is the goal as a number the ratio must not exceed (negative: must
    reach), or None with an explicit seventh item saying whether it is met.
    """
    rows = [("figure", "sheetgen", "against", "ratio", "goal", "met")]
    for label, ours, theirs, ratio, goal, limit, *met in figures:
        ok = (met[0] if met else None) if limit is None else (
            ratio <= limit if limit > 0 else ratio >= -limit)
        rows.append((label, ours, theirs, "" if ratio is None else f"{ratio:.2f}×", goal,
                     "" if ok is None else ("yes" if ok else "NO")))
    widths = [max(len(row[i]) for row in rows) for i in range(6)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))


def cold_figures(cold: dict[str, float]) -> list[tuple[Any, ...]]:
    """The table rows of :func:`cold_fill`'s medians."""
    typst = f"Typst cold {cold['typst']:.2f} s"
    return [
        ("cold `sheetgen fill`, layouts cached", f"{cold['cached']:.2f} s", typst,
         cold["cached"] / cold["typst"], "≤ 6×", 6.0),
        ("cold `sheetgen fill`, first run", f"{cold['first']:.2f} s", typst,
         cold["first"] / cold["typst"], "≤ 12×", 12.0),
        ("  first run compiling (no precompiled layouts)", f"{cold['compiling']:.2f} s", typst,
         cold["compiling"] / cold["typst"], "", None),
        *[(f"  baseline checkout, {label}", f"{cold[kind]:.2f} s", typst,
           cold[kind] / cold["typst"], "", None)
          for kind, label in (("base cached", "layouts cached"), ("base first", "first run"))
          if kind in cold],
    ]


def cold_fill(runs: int, typst: Callable[[], float], *,
              baseline: Path | None = None) -> dict[str, float]:
    """Median seconds of whole ``sheetgen fill`` processes and of whole Typst processes
    (``typst``), run in turns: a warm layout cache (``cached``), an empty one (``first``: the
    shipped precompiled layouts serve it), an empty one without them (``compiling``); and, with
    a ``baseline`` checkout, its fill with a warm and an empty cache (``base cached``,
    ``base first``).

    sheetgen's own modules are byte-compiled first, as installing its wheel does (pip writes
    the ``.pyc`` files; an editable checkout under ``PYTHONDONTWRITEBYTECODE`` has none, and
    would compile every module from source in every run).
    """
    import compileall

    compileall.compile_dir(str(REPO / "sheetgen"), quiet=1)
    sheetgen = [str(Path(sys.executable).parent / "sheetgen")]
    example = REPO / "examples" / "jiangxi-personal.json"
    kinds = ["first", "cached", "compiling"]
    if baseline is not None:
        compileall.compile_dir(str(baseline / "sheetgen"), quiet=1)
        kinds += ["base first", "base cached"]
    times: dict[str, list[float]] = {kind: [] for kind in [*kinds, "typst"]}
    with tempfile.TemporaryDirectory() as tmp:
        for n in range(runs + 1):
            for kind in kinds:
                warm = kind.endswith("cached")
                cache = Path(tmp) / (f"{kind}-warm" if warm else f"{kind}-{n}")
                env = {**os.environ, "SHEETGEN_CACHE_DIR": str(cache)}
                command, cwd = sheetgen, None
                if kind == "compiling":
                    env["SHEETGEN_PRECOMPILED"] = "off"
                if kind.startswith("base"):
                    assert baseline is not None
                    env["PYTHONPATH"] = str(baseline)
                    command, cwd = [sys.executable, "-m", "sheetgen"], baseline
                started = time.perf_counter()
                subprocess.run([*command, "fill", str(example), "-o", f"{tmp}/x.pdf"],
                               env=env, cwd=cwd, check=True, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
                times[kind].append(time.perf_counter() - started)
            times["typst"].append(typst())
    # The first "cached" run filled the cache; the first round also warmed the OS's caches.
    return {kind: statistics.median(values[1:]) for kind, values in times.items()}


if __name__ == "__main__":
    main()
