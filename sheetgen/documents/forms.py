"""Forms defined once: a declarative one-page form from which both templates are made.

A :class:`Form` lists what a one-page document prints, top to bottom: its title, its reference
and QR code, a ruled table of fields (a label and the context path of the value, with the
height of its cell), paragraphs of static text, and a signing block (a signature line, a
seal or a fingerprint box, the date left blank for the applicant). :func:`form_html` makes the
HTML template WeasyPrint compiles (the PDF); ``tools/build_docx_templates.py`` writes it for
each :class:`Form` of :data:`FORMS` and converts it into the DOCX template beside it (as it
converts a check sheet's HTML), so a layout change is one edit here and a rebuild.

The boxes ``receive`` checks (:attr:`~sheetgen.documents.kinds.DocumentKind.boxes`) are the
signing block's ``data-area`` marks; the QR code carries the kind's sheet code. What such a
form receives is :func:`~sheetgen.documents.context.document_context` (``document.*``,
``host.*``, ``principal.*``, ``provider.*``, ``flags.*``).

Everything a form says is static text: a label, a paragraph or a condition never holds a
template's own syntax (``{{``, ``{%``, ``{#``), and conditions are rules flags only, so a
form's structure depends on ``flags.*`` and nothing else (compile once, stamp many).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from markupsafe import escape

#: Page geometry, as the check sheet's (templates/common/sheet.css): A4, margins in mm.
MARGINS = (11.0, 14.0, 8.0, 14.0)  # top, right, bottom, left
CONTENT_WIDTH = 210.0 - MARGINS[1] - MARGINS[3]
CONTENT_HEIGHT = 297.0 - MARGINS[0] - MARGINS[2]
HEAD = 17.0          # mm: the title, the reference and the QR code
LABEL_WIDTH = 40.0   # mm: the fields' label column
TEXT_LINE = 6.0      # mm a static paragraph line takes (10.5 pt × 1.25, and some room)
SIGNING = 46.0       # mm: the signing block
SEAL = 38.0          # mm: the seal circle's diameter
FINGERPRINT = (20.0, 26.0)  # mm: the fingerprint box
#: The signing block's columns (mm from the left): the signature and date, the fingerprint
#: box, the seal circle, each box centred in its column.
SIGNING_COLUMNS = (0.0, 91.0, 131.0, CONTENT_WIDTH)
#: Characters of a static paragraph per line at 10.5 pt over the content width (CJK).
LINE_CHARS = 48
#: Room a form leaves unused at the bottom of its page, for renderers' rounding.
SLACK = 8.0

_PATH = re.compile(r"[a-z_]+(\.[a-z_]+)+")
_FLAG = re.compile(r"(not )?[a-z_]+")
_SYNTAX = ("{{", "}}", "{%", "%}", "{#", "#}")


@dataclass(frozen=True)
class Field:
    """A ruled row: ``label`` and the value at context ``path``, in a cell ``height`` mm."""

    label: str
    path: str
    height: float = 8.0


@dataclass(frozen=True)
class Form:
    """One one-page form (see the module docstring)."""

    title: str
    fields: tuple[Field, ...]
    text: tuple[str, ...] = ()             # paragraphs after the fields
    signature: str | None = "签字："       # the signature line's label; None: no line
    seal: str | None = None                # the seal circle's label (单位公章); None: none
    seal_when: str | None = None           # a flag the seal needs (``unit``)
    fingerprint: bool = False              # a fingerprint box (按手印处)
    fingerprint_when: str | None = None
    date: bool = True                      # 日期：　　年　　月　　日, left blank
    code: bool = True                      # the QR code (``document.code``, flags.qr)

    def __post_init__(self) -> None:
        texts = [self.title, *self.text, *(f.label for f in self.fields),
                 self.signature or "", self.seal or ""]
        for text in texts:
            if any(mark in text for mark in _SYNTAX):
                raise ValueError(f"form {self.title!r}: {text!r} holds template syntax")
        for field in self.fields:
            if not _PATH.fullmatch(field.path) or field.height <= 0:
                raise ValueError(f"form {self.title!r}: bad field {field.path!r}")
        for condition in (self.seal_when, self.fingerprint_when):
            if condition is not None and not _FLAG.fullmatch(condition):
                raise ValueError(f"form {self.title!r}: bad condition {condition!r}")
        if self.height() > CONTENT_HEIGHT - SLACK:
            raise ValueError(f"form {self.title!r} is {self.height():.1f} mm tall; one A4 "
                             f"page holds {CONTENT_HEIGHT - SLACK:.1f} mm")

    def text_height(self, paragraph: str) -> float:
        """The room (mm) a static paragraph is given: its lines at most, never grown."""
        lines = -(-(len(paragraph) + 2) // LINE_CHARS)  # + the 2em indent
        return lines * TEXT_LINE + 2.0

    def height(self) -> float:
        """The form's height in mm: every part has a fixed one."""
        return (HEAD + 2.0 + sum(f.height for f in self.fields)
                + sum(self.text_height(p) for p in self.text) + SIGNING)


def condition(flag: str) -> str:
    """A form's condition (``unit``, ``not unit``) as a template expression."""
    return f"not flags.{flag[4:]}" if flag.startswith("not ") else f"flags.{flag}"


def _if(flag: str | None, html: str) -> str:
    return html if flag is None else f"{{% if {condition(flag)} %}}{html}{{% endif %}}"


def form_html(form: Form) -> str:
    """The HTML template of ``form`` (its CSS inline), for the PDF."""
    e = escape
    rows = "\n".join(
        f'  <tr style="height: {f.height}mm"><td class="label">{e(f.label)}</td>'
        f'<td><div class="f" data-field="{f.path}" style="height: {f.height - 0.6:.1f}mm">'
        f"{{{{ {f.path} }}}}</div></td></tr>"
        for f in form.fields)
    text = "\n".join(f'<p class="text" style="height: {form.text_height(p):.1f}mm">{e(p)}</p>'
                     for p in form.text)
    signing = []
    if form.signature is not None:
        signing.append(f'<div class="signature">{e(form.signature)}'
                       '<span class="blank" data-area="signature"></span></div>')
    if form.fingerprint:
        signing.append(_if(form.fingerprint_when,
                           '<div class="fingerprint" data-area="fingerprint">按手印处</div>'))
    if form.seal is not None:
        signing.append(_if(form.seal_when,
                           f'<div class="seal" data-area="seal">{e(form.seal)}</div>'))
    if form.date:
        signing.append('<div class="date" data-area="date">日期：　　　　年　　月　　日</div>')
    signing_html = "\n  ".join(signing)
    code = ('{%- if flags.qr %}\n  <div class="qr" data-field="document.code" '
            'data-kind="qr"></div>\n  {%- endif %}' if form.code else "")
    top, right, bottom, left = MARGINS
    fx, fy = FINGERPRINT
    _, first, second, end = SIGNING_COLUMNS
    fingerprint_left = first + (second - first - fx) / 2
    seal_right = (end - second - SEAL) / 2
    return f"""{{#- Generated from a sheetgen.documents.forms.Form by tools/build_docx_templates.py:
    edit the form, not this file. -#}}
<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<title>{e(form.title)}</title>
<style>
@page {{ size: A4; margin: {top}mm {right}mm {bottom}mm {left}mm; }}
html {{ font-family: "Sheetgen Serif", "Sheetgen Serif Supplement", serif; font-size: 10.5pt;
       line-height: 1.25; color: #000; }}
body {{ margin: 0; }}
.head {{ position: relative; height: {HEAD}mm; }}
.head h1 {{ margin: 0; padding-top: 1mm; text-align: center; font-size: 20pt;
           letter-spacing: 1pt; font-weight: normal;
           font-family: "Sheetgen Serif", "Sheetgen Serif Supplement", serif; }}
.head .ref {{ position: absolute; left: 0; bottom: 1mm; font-size: 8pt; }}
.head .ref .f {{ display: inline-block; width: 40mm; height: 4.5mm; vertical-align: -1mm; }}
.head .qr {{ position: absolute; right: 0; bottom: 1mm; width: 15mm; height: 15mm; }}
table {{ width: 100%; border-collapse: collapse; table-layout: fixed; margin-top: 2mm; }}
td {{ border: 0.75pt solid #000; padding: 0 1.6mm; vertical-align: middle; }}
td.label {{ width: {LABEL_WIDTH - 3.2:.1f}mm; text-align: center; font-size: 9.5pt; }}
.f {{ overflow: hidden; white-space: pre-line; }}
p.text {{ margin: 0; padding-top: 2mm; text-indent: 2em; overflow: hidden;
          box-sizing: border-box; }}
.signing {{ position: relative; height: {SIGNING}mm; }}
.signing .signature {{ position: absolute; left: 0; top: 12mm; }}
.signing .signature .blank {{ display: inline-block; width: 40mm; height: 5mm;
                              border-bottom: 0.5pt solid #000; }}
.signing .seal, .signing .fingerprint {{ position: absolute; border: 0.6pt dashed #444;
    color: #444; font-size: 8pt; text-align: center; }}
.signing .seal {{ right: {seal_right}mm; top: 2mm; width: {SEAL}mm; height: {SEAL}mm;
                  line-height: {SEAL}mm; border-radius: {SEAL / 2}mm; }}
.signing .fingerprint {{ left: {fingerprint_left}mm; top: 4mm; width: {fx}mm; height: {fy}mm;
                         line-height: {fy}mm; }}
.signing .date {{ position: absolute; left: 0; bottom: 4mm; }}
</style>
</head>
<body>
<div class="head">
  <h1>{e(form.title)}</h1>
  <div class="ref">编号：<span class="f" data-field="document.ref">{{{{ document.ref }}}}</span>
  </div>
  {code}
</div>
<table>
{rows}
</table>
{text}
<div class="signing">
  {signing_html}
</div>
</body>
</html>
"""


#: The bundled forms by template stem (``templates/<stem>.html`` and ``.docx``), which
#: ``tools/build_docx_templates.py`` writes; a kind names its stem as its ``template``.
FORMS: dict[str, Form] = {}


# --- the companion documents (issue 23): sheetgen's own plain wording -------------------------
# No authority prescribes the wording of these letters (domain.md §8); the rules' documents
# table marks them ``wording = "project"``. What the data does not hold is an empty ruled row,
# a line to write on. The province-prescribed documents (广东/江苏/上海) are not here: sheetgen
# never invents their text (a provider's template prints them).

_TRUE = ("被授权人所提交的备案信息真实、准确、完整，本单位对其真实性承担责任。"
         "本授权自签署之日起至本次备案办结之日止有效。")

MANAGER_AUTHORISATION = Form(
    "网站负责人授权书",
    (Field("授权单位", "host.name", 10.0),
     Field("统一社会信用代码", "host.certificate_number"),
     Field("法定代表人", "legal.name"),
     Field("法定代表人证件号码", "legal.certificate_number"),
     Field("网站负责人姓名", "manager.name"),
     Field("网站负责人证件类型", "manager.certificate_type"),
     Field("网站负责人证件号码", "manager.certificate_number"),
     Field("网站负责人手机号码", "manager.mobile"),
     Field("网站名称", "website.name", 10.0),
     Field("网站域名", "website.domains", 40.0),  # ten long domains (MAX_DOMAINS)
     Field("备案省份", "document.province")),
    text=("本单位法定代表人授权上述网站负责人负责上述网站，代表本单位办理该网站的互联网信息服务备案"
          "（ICP备案）及真实性核验等相关事宜。", _TRUE),
    signature="法定代表人签字：", seal="单位公章", seal_when="seal")

PRINCIPAL_AUTHORISATION = Form(
    "主体负责人授权书",
    (Field("授权单位", "host.name", 10.0),
     Field("统一社会信用代码", "host.certificate_number"),
     Field("法定代表人", "legal.name"),
     Field("法定代表人证件号码", "legal.certificate_number"),
     Field("主体负责人姓名", "principal.name"),
     Field("主体负责人证件类型", "principal.certificate_type"),
     Field("主体负责人证件号码", "principal.certificate_number"),
     Field("主体负责人手机号码", "principal.mobile"),
     Field("备案省份", "document.province")),
    text=("本单位法定代表人授权上述人员担任本单位的主体负责人，代表本单位办理本单位网站的互联网信息"
          "服务备案（ICP备案）及真实性核验等相关事宜。", _TRUE),
    signature="法定代表人签字：", seal="单位公章", seal_when="seal")

LEGAL_AUTHORISATION = Form(
    "法人授权书",
    (Field("授权单位", "host.name", 10.0),
     Field("统一社会信用代码", "host.certificate_number"),
     Field("法定代表人", "legal.name"),
     Field("法定代表人证件号码", "legal.certificate_number"),
     Field("主体负责人姓名", "principal.name"),
     Field("主体负责人证件号码", "principal.certificate_number"),
     Field("网站及网站负责人", "document.managers", 40.0),
     Field("备案省份", "document.province")),
    text=("本人为上述单位的法定代表人，授权上述主体负责人和网站负责人代表本单位办理网站的互联网信息"
          "服务备案（ICP备案）及真实性核验等相关事宜。", _TRUE),
    signature="法定代表人签字：")

NO_PREAPPROVAL = Form(
    "不涉及前置审批承诺书",
    (Field("网站主办者", "host.name", 10.0),
     Field("主办者证件号码", "host.certificate_number"),
     Field("网站名称及域名", "document.websites", 48.0),
     Field("备案省份", "document.province")),
    text=("网站主办者承诺：上述网站不提供新闻、出版、教育、医疗保健、药品和医疗器械、文化、广播电影"
          "电视节目等依法须经有关主管部门审核同意的互联网信息服务，不涉及前置审批或专项审批内容。",
          "如今后提供上述服务，将先取得有关主管部门的审批文件，并及时办理备案变更。"
          "如有违反，网站主办者愿承担相应责任。"),
    signature="网站主办者签字：", seal="单位公章", seal_when="seal", fingerprint=True,
    fingerprint_when="fingerprint")

WEBSITE_PLAN = Form(
    "网站建设方案书",
    (Field("网站主办者", "host.name", 10.0),
     Field("网站名称", "website.name"),
     Field("网站域名", "website.domains", 40.0),  # ten long domains (MAX_DOMAINS)
     Field("网站首页网址", "website.homepage"),
     Field("网站用途", "website.purpose", 16.0),
     Field("主要内容及栏目", "website.content", 24.0),
     Field("前置审批内容", "website.preapproval"),
     Field("接入服务商", "provider.name"),
     Field("服务器 IP 地址", "website.ips"),
     Field("服务器所在地", "website.location"),
     Field("网站负责人", "website.maintainer"),
     Field("建设与维护安排", "website.maintenance", 16.0)),
    text=("网站主办者保证以上内容真实、准确；网站上线后按本方案所列用途和内容运营，内容或接入信息"
          "变化时及时办理备案变更。",),
    signature="网站主办者签字：", seal="单位公章", seal_when="seal", fingerprint=True,
    fingerprint_when="fingerprint")

FORMS.update({
    "letters/manager_authorisation": MANAGER_AUTHORISATION,
    "letters/principal_authorisation": PRINCIPAL_AUTHORISATION,
    "letters/legal_authorisation": LEGAL_AUTHORISATION,
    "letters/no_preapproval": NO_PREAPPROVAL,
    "letters/website_plan": WEBSITE_PLAN,
})
