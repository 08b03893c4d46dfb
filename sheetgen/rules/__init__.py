"""The rules data: provinces, variants, fingerprint, seal, SMS, materials, signing (design.md §4).

Everything in domain.md §3–§7 that changes with regulation lives in a TOML file shipped in
the package, one per dated **edition** (:data:`EDITIONS`): ``rules.toml`` is today's regulation
(the default), ``rules-2018.toml`` the seed's 2018 paper flow with its pilot batches corrected.
``--rules-edition E`` picks a built-in edition; a user replaces the file whole with
``--rules FILE`` (which names its own ``edition``). This package owns reading and validating
that file and answering questions about it (which province a name means, whether a province
asks for a fingerprint, which materials a case needs). It never decides anything by a
province's name: every such fact is data, so a province can be added to a rule without code.

This module is the package's entry: it re-exports the public names of its modules, each
owning one part, in the order they import each other (tests/test_architecture.py):

- :mod:`~.flags`: the vocabulary of conditions (:data:`FLAGS`, filing types, :data:`FLOWS`);
- :mod:`~.editions`: the built-in editions (:data:`EDITIONS`) and ``--rules-edition``;
- :mod:`~.acceptance`: what the administration rejects although the data is well-formed;
- :mod:`~.data`: the pydantic models of the file's tables (:class:`Province`, :class:`Sms`,
  :class:`Document`, :class:`CertificateType` …);
- :mod:`~.ruleset`: :class:`Rules`, the whole file, and the questions code asks of it;
- :mod:`~.consistency`: the cross-reference checks the TOML shape cannot say;
- :mod:`~.parsing`: reading a file, bounded (:data:`MAX_RULES_BYTES`, :data:`MAX_RULES_DEPTH`),
  every problem a :class:`~sheetgen.errors.RulesError` naming the file, line and key;
- :mod:`~.precompiled`: the built-in editions parsed ahead of time and shipped;
- :mod:`~.loader`: the rules in use (:func:`load_rules`, :func:`choose`).

Importing this package stays cheap (pydantic and the standard library only): ``sheetgen rules``
must start fast. For the same reason the models' validators are built on first use
(``defer_build``), and a built-in edition is read, when it can be, from the copy of it already
parsed and validated that the package ships (:mod:`~.precompiled`).
"""

from sheetgen.resources import rules_file
from sheetgen.rules import acceptance
from sheetgen.rules.acceptance import AcceptanceRule
from sheetgen.rules.consistency import PROVINCE_COUNT
from sheetgen.rules.data import (
    Alternative,
    Backdrop,
    Carrier,
    CertificateType,
    Commitment,
    Conditional,
    Disputed,
    Document,
    DocumentCase,
    DocumentDispute,
    DomainCertificate,
    Fingerprint,
    Key,
    Material,
    NoSealRule,
    PilotBatch,
    Province,
    Recipients,
    Registrar,
    Seal,
    Sms,
    Source,
    Templates,
    TemplateStem,
    Text,
    Variant,
    Verification,
)
from sheetgen.rules.editions import DEFAULT_EDITION, EDITIONS, check_edition
from sheetgen.rules.flags import FLAGS, FLOWS, FilingTypeCode, Flag, Flow
from sheetgen.rules.loader import choose, load_rules
from sheetgen.rules.parsing import MAX_RULES_BYTES, MAX_RULES_DEPTH, parse_rules
from sheetgen.rules.precompiled import precompiled_dir, precompiled_name, precompiled_sources
from sheetgen.rules.ruleset import Rules

__all__ = [
    "DEFAULT_EDITION", "EDITIONS", "FLAGS", "FLOWS", "MAX_RULES_BYTES", "MAX_RULES_DEPTH",
    "PROVINCE_COUNT", "AcceptanceRule", "Alternative", "Backdrop", "Carrier", "CertificateType",
    "Commitment", "Conditional", "Disputed", "Document", "DocumentCase", "DocumentDispute",
    "DomainCertificate", "FilingTypeCode", "Fingerprint", "Flag", "Flow", "Key", "Material",
    "NoSealRule", "PilotBatch", "Province", "Recipients", "Registrar", "Rules", "Seal", "Sms",
    "Source", "TemplateStem", "Templates", "Text", "Variant", "Verification", "acceptance",
    "check_edition", "choose", "load_rules", "parse_rules", "precompiled_dir", "precompiled_name",
    "precompiled_sources", "rules_file",
]
