"""The rules file's vocabulary of conditions: the flags a ``when`` list may name, the filing
types, the verification flows.

:mod:`sheetgen.documents.plan` computes the flags of a filing; the rules data
(:mod:`~.data`) and the document kinds test them. A new flag is one word here and the line of
the plan that computes it.
"""

from __future__ import annotations

from typing import Literal, get_args

#: The provider's verification flows (``--verification``, ``[verification].flow``).
FLOWS = ("paper", "electronic")

Flag = Literal["personal", "unit", "seal", "no_seal", "fingerprint", "commitment", "registrar",
               "special_site", "new_filing", "new_website", "new_access", "change", "paper",
               "electronic", "preapproval", "domain_certificate", "manager_not_representative",
               "principal_not_representative", "approval_keyword"]
FilingTypeCode = Literal["new_filing", "new_website", "new_access", "change"]
Flow = Literal["paper", "electronic"]
#: The conditions that ``when`` lists may name; :mod:`~.plan` computes them per filing.
FLAGS: tuple[str, ...] = get_args(Flag)
