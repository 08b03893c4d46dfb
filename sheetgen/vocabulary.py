"""The contract's enumerations: unit natures (主办单位性质), filing types (备案类型) and the
content types that need a pre-approval (前置审批, domain.md §7).

Each member's value is its English code (``personal``); ``.label`` is the Chinese name (个人)
that the sheets print. Input accepts either form (contract.md §1), through :meth:`parse`.
These live in their own module because both :mod:`sheetgen.rules` (which maps natures to
certificate types) and :mod:`sheetgen.model` use them, and the rules must not import the model.
"""

from __future__ import annotations

import unicodedata
from enum import StrEnum
from typing import Self


class _Coded(StrEnum):
    """A StrEnum whose members also have a Chinese label and parse from either form."""

    @property
    def code(self) -> str:
        """The English code (the JSON value sheetgen writes)."""
        return self.value

    @property
    def label(self) -> str:
        """The Chinese name, as printed on the sheet."""
        return _LABELS[self]

    @classmethod
    def parse(cls, text: str) -> Self | None:
        """The member named ``text`` by code (case-insensitive) or Chinese label, else None."""
        key = unicodedata.normalize("NFC", text).strip()
        for member in cls:
            if key.casefold() == member.value or key == member.label:
                return member
        return None

    @classmethod
    def accepted(cls) -> list[str]:
        """Every accepted input form: codes, then labels (for the JSON Schema)."""
        return [m.value for m in cls] + [m.label for m in cls]


class Nature(_Coded):
    """主办单位性质 (the host's nature). Every nature except ``personal`` is a unit filing."""

    PERSONAL = "personal"
    ENTERPRISE = "enterprise"
    GOVERNMENT = "government"
    INSTITUTION = "institution"
    SOCIAL_GROUP = "social_group"
    PRIVATE_NON_ENTERPRISE = "private_non_enterprise"
    FOUNDATION = "foundation"
    LAW_FIRM = "law_firm"
    DEFENSE = "defense"
    FOREIGN_CULTURAL_CENTER = "foreign_cultural_center"
    MASS_ORGANIZATION = "mass_organization"
    FORENSIC_INSTITUTION = "forensic_institution"
    RELIGIOUS_GROUP = "religious_group"
    OVERSEAS_INSTITUTION = "overseas_institution"
    MEDICAL_INSTITUTION = "medical_institution"
    NOTARY = "notary"
    OTHER = "other"

    @property
    def unit(self) -> bool:
        """A unit (单位) filing: signed and sealed, with a principal (主体负责人)."""
        return self is not Nature.PERSONAL


class FilingType(_Coded):
    """备案类型: what the applicant asks the provider for."""

    NEW_FILING = "new_filing"
    NEW_WEBSITE = "new_website"
    NEW_ACCESS = "new_access"
    CHANGE = "change"


class Preapproval(_Coded):
    """前置审批 / 专项审批: website content that needs an approval before filing (the
    填写说明's item 七). A website declaring any gets the sheet's pre-approval check row."""

    NEWS = "news"
    PUBLISHING = "publishing"
    EDUCATION = "education"
    MEDICAL = "medical"
    DRUGS = "drugs"
    CULTURE = "culture"
    BROADCASTING = "broadcasting"
    BULLETIN = "bulletin"


_LABELS: dict[_Coded, str] = {
    Nature.PERSONAL: "个人",
    Nature.ENTERPRISE: "企业",
    Nature.GOVERNMENT: "政府机关",
    Nature.INSTITUTION: "事业单位",
    Nature.SOCIAL_GROUP: "社会团体",
    Nature.PRIVATE_NON_ENTERPRISE: "民办非企业单位",
    Nature.FOUNDATION: "基金会",
    Nature.LAW_FIRM: "律师执业机构",
    Nature.DEFENSE: "国防机构",
    Nature.FOREIGN_CULTURAL_CENTER: "外国在华文化中心",
    Nature.MASS_ORGANIZATION: "群众性团体组织",
    Nature.FORENSIC_INSTITUTION: "司法鉴定机构",
    Nature.RELIGIOUS_GROUP: "宗教团体",
    Nature.OVERSEAS_INSTITUTION: "境外机构",
    Nature.MEDICAL_INSTITUTION: "医疗机构",
    Nature.NOTARY: "公证机构",
    Nature.OTHER: "其他",
    FilingType.NEW_FILING: "新增备案",
    FilingType.NEW_WEBSITE: "新增网站",
    FilingType.NEW_ACCESS: "新增接入",
    FilingType.CHANGE: "变更备案",
    Preapproval.NEWS: "新闻",
    Preapproval.PUBLISHING: "出版",
    Preapproval.EDUCATION: "教育",
    Preapproval.MEDICAL: "医疗保健",
    Preapproval.DRUGS: "药品和医疗器械",
    Preapproval.CULTURE: "文化",
    Preapproval.BROADCASTING: "广播电影电视节目",
    Preapproval.BULLETIN: "电子公告",
}
