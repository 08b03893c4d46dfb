"""The registry of document kinds: every printed document is a kind, and everything asks here.

A :class:`DocumentKind` says, once, what the rest of sheetgen used to know by name about the
cover and the check sheet:

- ``template``: the template it prints from (``None``: the variant's sheet template, which the
  rules choose per province, ``[variants.*].templates``);
- ``context``: its context builder (plan, website or None, options → :class:`SheetContext`);
- ``per_website``: one document per website (the sheet) or one per applicant (the cover, a
  letter);
- ``default``: whether it prints when the rules do not name it; when they do
  (``[documents.<name>] when = [...]``, :class:`sheetgen.rules.Document`), its ``when`` flags
  decide, from the rules data only (no province name in code);
- ``max_pages``, ``suffix`` (the Word file's name: ``<stem>-<suffix>[N].docx``), ``order``
  (print order; ties keep registry order), ``switch`` (the :class:`~.jobs.RenderOptions`
  field that turns it off, ``cover`` for ``--no-cover``), ``choice`` (a RenderOptions field
  that, when not None, decides over the rules: ``sheet`` for ``--check-sheet/--no-check-sheet``),
  ``originals`` (printed ``--copies`` times, or as the provider configuration's
  ``[originals]`` says, and counted by ``receive``);
- ``code``: it carries a sheet code (QR, :mod:`~sheetgen.documents.sheetcode`) naming the kind;
  ``boxes``: the boxes ``receive`` checks on a scan of it (signature, seal, fingerprint, date).

Jobs (:mod:`~.jobs`), PDF bookmarks and DOCX names (job titles and suffixes), the manifest and
``receive`` (:mod:`sheetgen.receive.layouts`, :mod:`sheetgen.receive.records`) read the
registry; a new kind is one definition (its template, e.g. made from a
:class:`sheetgen.documents.forms.Form`), one :func:`register` call and, when it is not for
everyone, one ``[documents.<name>]`` table in the rules.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sheetgen.documents.context import (
    LETTER_FLAGS,
    SheetContext,
    document_context,
    sheet_context,
)
from sheetgen.documents.cover import MAX_PAGES as COVER_PAGES
from sheetgen.documents.cover import TEMPLATE as COVER_TEMPLATE
from sheetgen.documents.cover import cover_context
from sheetgen.documents.options import RenderOptions
from sheetgen.documents.plan import FilingPlan, Seal, SheetPlan
from sheetgen.errors import TemplateError

if TYPE_CHECKING:
    from sheetgen.rules import Rules

#: The boxes ``receive`` can check (a layout's ``data-area`` names).
BOXES = ("signature", "seal", "fingerprint", "date")

ContextBuilder = Callable[["FilingPlan", "SheetPlan | None", "RenderOptions", "DocumentKind"],
                          SheetContext]
LayoutEnumerator = Callable[["FilingPlan", "Rules", "DocumentKind"], Iterator[SheetContext]]


def flag_layouts(plan: FilingPlan, rules: Rules, kind: DocumentKind) -> Iterator[SheetContext]:
    """The layouts of a one-per-applicant form that receives every rules flag (a letter,
    :func:`letter_context`): its example context under each combination of flags a plan can
    hold (unit or personal, seal or not, the filing type, the flow, the free flags, the
    companion documents' flags among them): some eight thousand keys, hashing only (about
    0.6 s, once per receive that meets an unknown layout), so a scan of a letter printed
    elsewhere is found."""
    from sheetgen.rules import FLAGS

    base = kind.context(plan, plan.sheets[0] if kind.per_website else None,
                        RenderOptions(qr=True), kind)
    if not set(FLAGS) <= set(base.context.get("flags", {})):
        yield base  # a context of its own flags: the example's layout only
        return
    free = ("fingerprint", "commitment", "registrar", "special_site", "preapproval",
            "manager_not_representative", "principal_not_representative", "approval_keyword")
    filing_types = ("new_filing", "new_website", "new_access", "change")
    holders = (("personal",), ("unit", "seal"), ("unit", "no_seal"), ("unit",))
    for holder, filing_type, flow, chosen in itertools.product(
            holders, filing_types, ("paper", "electronic"),
            itertools.product((False, True), repeat=len(free))):
        held = {*holder, filing_type, flow, *(f for f, on in zip(free, chosen, strict=True) if on)}
        flags = {**base.context["flags"], **{name: name in held for name in FLAGS}}
        yield SheetContext(base.template, {**base.context, "flags": flags}, base.paths)


@dataclass(frozen=True)
class DocumentKind:
    """One kind of printed document (see the module docstring for each field)."""

    name: str                    # registry key, rules key, QR payload's kind (a-z0-9_)
    title: str                   # bookmark and Word title; per website: "{n}" and "{website}"
    context: ContextBuilder
    template: str | None = None  # template stem (``common/letter``); None: the plan's sheet's
    per_website: bool = False
    default: bool = False        # prints when the rules do not name it
    max_pages: int = 1
    suffix: str = ""             # the Word file's name after the stem (default: the name)
    order: int = 50
    switch: str | None = None    # a RenderOptions boolean that turns it off
    choice: str | None = None    # a RenderOptions bool | None that, when set, decides
    originals: bool = False      # printed ``copies`` times; receive counts the originals
    code: bool = False           # carries a sheet code (QR)
    boxes: frozenset[str] = frozenset()  # what receive checks on a scan (of BOXES)
    layouts: LayoutEnumerator = flag_layouts  # every layout it can print (receive)
    # Per website: the websites it prints for (None: every one).
    sites: Callable[[FilingPlan], Sequence[SheetPlan]] | None = None

    def __post_init__(self) -> None:
        if not self.name.isascii() or not self.name.replace("_", "a").isalnum() \
                or not self.name[:1].islower():
            raise ValueError(f"document kind name {self.name!r}: use a-z, 0-9 and _")
        unknown = set(self.boxes) - set(BOXES)
        if unknown:
            raise ValueError(f"document kind {self.name}: unknown boxes {sorted(unknown)}")

    def applies(self, plan: FilingPlan, options: RenderOptions) -> bool:
        """Whether ``plan``'s applicant gets this document (the rules, then the options)."""
        if self.switch is not None and not getattr(options, self.switch):
            return False
        chosen = None if self.choice is None else getattr(options, self.choice)
        if chosen is not None:
            return bool(chosen)
        rule = plan.documents.get(self.name)
        if rule is None:
            return self.default
        return self.name in plan.required and (not self.per_website or bool(self.sheets(plan)))

    def sheets(self, plan: FilingPlan) -> Sequence[SheetPlan]:
        """The websites a per-website kind prints for."""
        return plan.sheets if self.sites is None else self.sites(plan)

    def file_name(self, number: int | None) -> str:
        """The Word file's name part: ``cover``, ``sheet2``."""
        return f"{self.suffix or self.name}{'' if number is None else number}"

    def job_title(self, plan: FilingPlan, sheet: SheetPlan | None) -> str:
        if sheet is None:
            return self.title
        return self.title.format(n=sheet.index + 1, website=sheet.website.name)

    def template_name(self, sheet: SheetPlan | None) -> str:
        """The HTML template (``common/letter.html``); the DOCX one is beside it."""
        if self.template is not None:
            return f"{self.template}.html"
        if sheet is None:
            raise ValueError(f"document kind {self.name} has no template of its own")
        return f"{sheet.template}.html"


_REGISTRY: dict[str, DocumentKind] = {}


def register(kind: DocumentKind) -> DocumentKind:
    """Add ``kind`` to the registry (replacing one of the same name); returns it."""
    _REGISTRY[kind.name] = kind
    return kind


def unregister(name: str) -> None:
    """Remove a kind (a provider's or a test's); the built-in ones stay unless removed too."""
    _REGISTRY.pop(name, None)


def kinds(plan: FilingPlan | None = None, provided: Iterable[str] = ()) -> list[DocumentKind]:
    """Every registered kind, with those ``plan``'s rules define (``[documents.<kind>]`` with
    a ``title`` and ``template``, replacing a registered one of the same name), in print
    order (ties: registry order).

    ``provided``: the kinds a provider's template set holds as ``documents/<kind>.html`` /
    ``.docx`` (:func:`provider_documents`): each of them that the rules' documents table names
    prints from that template; an entry with a ``title`` and no ``template`` (a province's
    prescribed text, which sheetgen does not hold) becomes a kind only so."""
    found = dict(_REGISTRY)
    provided = frozenset(provided)
    for name, rule in (plan.documents.items() if plan is not None else ()):
        own = f"{PROVIDED}/{name}" if name in provided else None  # the provider's wins
        if rule.template is None and name in found:  # a registered kind: its own look
            if own is not None:
                found[name] = dataclasses.replace(found[name], template=own)
        elif rule.display is not None and (own or rule.template) is not None:
            found[name] = DocumentKind(
                name=name, title=rule.display, context=letter_context,
                template=own or rule.template, default=True, max_pages=rule.max_pages,
                suffix=rule.suffix or "", order=rule.order, originals=rule.originals,
                code=rule.code, boxes=frozenset(rule.boxes))
    return sorted(found.values(), key=lambda kind: kind.order)


#: The folder of a template set whose ``<kind>.html`` / ``.docx`` print a document kind
#: (as :data:`sheetgen.rendering.templating.PROVIDED`, which this stage cannot import).
PROVIDED = "documents"
#: Kinds with templates of their own elsewhere in a set: not replaced from ``documents/``.
_NOT_PROVIDED = {"cover": "common/cover.html", "sheet": "public/sheet.html (and the "
                                                        "other variants' sheet templates)"}


def provider_documents(provided: Mapping[str, Sequence[str]],
                       documents: Mapping[str, object]) -> frozenset[str]:
    """The kinds of a provider's ``documents/`` templates (kind → its files), each checked to
    be a one-per-applicant document the rules' documents table (``documents``) names: a
    TemplateError (exit 5) names a file that is not."""
    for name, files in provided.items():
        if name in _NOT_PROVIDED:
            raise TemplateError(
                f"template {files[0]}: the {name} is not printed from {PROVIDED}/",
                hint=f"put your own {name} at {_NOT_PROVIDED[name]} in your template set")
        if name not in documents:
            known = sorted(set(documents) - set(_NOT_PROVIDED))
            raise TemplateError(
                f"template {files[0]}: the rules know no document kind {name!r}",
                hint=f"name the file after a document of the rules' documents table ("
                     f"{', '.join(known) or 'none in these rules'}), or add "
                     f"[documents.{name}] with a title to a --rules file")
    return frozenset(provided)


def printed_kinds(plan: FilingPlan, options: RenderOptions) -> list[DocumentKind]:
    """The kinds ``plan``'s applicant gets under ``options``, in print order, a provider's
    ``documents/`` templates (``options.templates``) included: what the jobs print and the
    cover lists."""
    provided = (provider_documents(options.templates.provided, plan.documents)
                if options.templates is not None else frozenset())
    return [found for found in kinds(plan, provided) if found.applies(plan, options)]


def kind(name: str, plan: FilingPlan | None = None,
         provided: Iterable[str] = ()) -> DocumentKind | None:
    """The kind called ``name`` (registered, or defined by ``plan``'s rules, with a
    provider's ``provided`` templates: :func:`kinds`), or None."""
    return next((k for k in kinds(plan, provided) if k.name == name), None)


# --- the built-in kinds -------------------------------------------------------------------------

def _cover(plan: FilingPlan, sheet: SheetPlan | None, options: RenderOptions,
           kind: DocumentKind) -> SheetContext:
    return cover_context(plan, packet(plan, options), provider=options.provider)


def packet(plan: FilingPlan, options: RenderOptions) -> list[dict[str, str]]:
    """The cover's list of this applicant's documents in print order (``rules.packet``):
    each printed one (how many, who signs, seals, fingerprints), then each the table names
    for it that sheetgen does not print (the province's wording: where its template comes
    from). Static per layout: every text comes from the rules and the plan."""
    items: list[tuple[int, dict[str, str]]] = []
    printed = set()
    for found in printed_kinds(plan, options):
        if found.name == COVER.name:
            continue
        printed.add(found.name)
        rule = plan.documents.get(found.name)
        # The provider's [originals] count when it names the kind, else what the table asks.
        copies = dict(options.originals).get(found.name) or (
            rule.copies if rule is not None and rule.label else
            options.copies if found.originals else 1)
        # Which websites is the documents' own business (each names its website), so the
        # cover's layout does not depend on how many websites the applicant files.
        count = (f"所涉网站各原件 {copies} 份" if found.per_website and found.sites is not None
                 else f"每个网站原件 {copies} 份" if found.per_website else f"原件 {copies} 份")
        title = rule.display if rule and rule.display else (
            "网站备案信息真实性核验单" if found.name == SHEET.name else found.title)
        items.append((found.order, {"title": title, "count": count,
                                    "signs": _signs(plan, found.name), "source": "随本清单打印"}))
    for name, rule in plan.documents.items():
        if name in printed or name not in plan.required or rule.wording != "province" \
                or rule.display is None:
            continue
        items.append((rule.order, {"title": rule.display, "count": f"原件 {rule.copies} 份",
                                   "signs": _signs(plan, name),
                                   "source": f"不随本清单打印，模板：{rule.template_from}"}))
    return [item for _, item in sorted(items, key=lambda pair: pair[0])]  # stable


def _signs(plan: FilingPlan, name: str) -> str:
    """Who signs document ``name`` for this applicant, with the seal and fingerprint."""
    rule = plan.documents.get(name)
    if name == SHEET.name:
        if "paper" not in plan.flags:
            return "按接入服务商的电子化核验流程在 App 中确认"
        return "按“核验单签署要求”签字" + ("并加盖单位公章" if plan.needs_seal else "") \
            + ("、按手印" if plan.needs_fingerprint else "")
    if rule is None:
        return ""
    text = (rule.signs_personal if not plan.unit and rule.signs_personal else rule.signs) or ""
    marks = []
    if rule.seal and plan.needs_seal and "公章" not in text:
        marks.append("加盖单位公章")
    if rule.fingerprint and plan.needs_fingerprint and "手印" not in text:
        marks.append("按手印")
    return "，".join([text, *marks]) if text else "，".join(marks)


def _sheet(plan: FilingPlan, sheet: SheetPlan | None, options: RenderOptions,
           kind: DocumentKind) -> SheetContext:
    assert sheet is not None  # a per-website kind
    return sheet_context(plan, sheet, provider=options.provider, qr=options.qr,
                         details=options.details)


def letter_context(plan: FilingPlan, sheet: SheetPlan | None, options: RenderOptions,
                   kind: DocumentKind) -> SheetContext:
    """The context builder of a one-per-applicant form (a letter): see
    :func:`~sheetgen.documents.context.document_context`."""
    return document_context(plan, kind.name, kind.template_name(sheet), provider=options.provider,
                            qr=options.qr and kind.code)


def _sheet_layouts(plan: FilingPlan, rules: Rules, kind: DocumentKind) -> Iterator[SheetContext]:
    """Every check sheet this version can print under ``rules``: each variant, unit or
    personal, with or without fingerprint, seal, landline and registrar (a few dozen)."""
    base = plan.sheets[0]
    seal = rules.seal
    for variant, spec in rules.variants.items():
        for unit in (False, True):
            seals: tuple[Seal, ...] = ("seal", "no_seal") if unit else ("none",)
            for fingerprint, chosen, landline, registrar in itertools.product(
                    (False, True), seals, (False, True), (False, True)):
                sheet = dataclasses.replace(
                    base, variant=variant, unit=unit,
                    template=spec.templates.unit if unit else spec.templates.personal,
                    fingerprint=fingerprint, seal=chosen, landline=landline,
                    commitment=spec.personal_commitment and not unit,
                    seal_label=seal.label,
                    no_seal_text=seal.no_seal_text if chosen == "no_seal" else None,
                    registrar=registrar)
                yield kind.context(plan, sheet, RenderOptions(qr=True), kind)


COVER = register(DocumentKind(
    name="cover", title="备案材料清单", context=_cover,
    template=COVER_TEMPLATE.removesuffix(".html"), default=True, max_pages=COVER_PAGES,
    order=0, switch="cover"))
SHEET = register(DocumentKind(
    name="sheet", title="网站 {n}：{website}", context=_sheet, per_website=True, default=True,
    order=20, choice="sheet", originals=True, code=True, boxes=frozenset(BOXES),
    layouts=_sheet_layouts))


# --- the companion documents (issue 23): sheetgen's own wording -----------------------------
# Each a one-page Form (sheetgen.documents.forms, templates/letters/<kind>.html and .docx), a
# kind here, and a [documents.<kind>] entry in the rules saying which applicant gets it.

def _letter(plan: FilingPlan, sheet: SheetPlan | None, options: RenderOptions,
            kind: DocumentKind) -> SheetContext:
    """A companion letter's context: the document context, with the website for a
    per-website letter, and only the flags its boxes depend on (:data:`LETTER_FLAGS`)."""
    return document_context(plan, kind.name, kind.template_name(sheet),
                            provider=options.provider, qr=options.qr and kind.code,
                            sheet=sheet if kind.per_website else None, flags=LETTER_FLAGS)


def _letter_layouts(plan: FilingPlan, rules: Rules, kind: DocumentKind
                    ) -> Iterator[SheetContext]:
    """Every layout of a companion letter: unit with or without a seal, or a person, each
    with or without the fingerprint box (six)."""
    base = kind.context(plan, plan.sheets[0] if kind.per_website else None,
                        RenderOptions(qr=True), kind)
    holders = (("personal",), ("unit", "seal"), ("unit", "no_seal"))
    for holder, fingerprint in itertools.product(holders, (False, True)):
        held = {*holder, *(("fingerprint",) if fingerprint else ())}
        flags = {name: name in held for name in LETTER_FLAGS} | {"qr": True}
        yield SheetContext(base.template, {**base.context, "flags": flags}, base.paths)


def _manager_sites(plan: FilingPlan) -> Sequence[SheetPlan]:
    return [sheet for sheet in plan.sheets if sheet.index in plan.manager_sites]


def _companion(name: str, title: str, order: int, boxes: set[str], *,
               per_website: bool = False,
               sites: Callable[[FilingPlan], Sequence[SheetPlan]] | None = None
               ) -> DocumentKind:
    return register(DocumentKind(
        name=name, title=title, context=_letter, template=f"letters/{name}",
        per_website=per_website, order=order, code=True,
        boxes=frozenset({"signature", "date", *boxes}), layouts=_letter_layouts, sites=sites))


LEGAL_AUTHORISATION = _companion("legal_authorisation", "法人授权书", 30, set())
PRINCIPAL_AUTHORISATION = _companion("principal_authorisation", "主体负责人授权书", 31, {"seal"})
MANAGER_AUTHORISATION = _companion("manager_authorisation",
                                   "网站负责人授权书（网站 {n}：{website}）", 32, {"seal"},
                                   per_website=True, sites=_manager_sites)
NO_PREAPPROVAL = _companion("no_preapproval", "不涉及前置审批承诺书", 34, {"seal", "fingerprint"})
WEBSITE_PLAN = _companion("website_plan", "网站建设方案书（网站 {n}：{website}）", 36,
                          {"seal", "fingerprint"}, per_website=True)
