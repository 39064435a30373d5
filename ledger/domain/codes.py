"""Every on-chain enum, declared once: the only place the ledger spells a contract's ``uint8`` codes.

Each class mirrors one Solidity enum member for member, in order, under the same names written in
``UPPER_SNAKE`` case (``StandardPatentR`` is ``STANDARD_PATENT_R``); its docstring names the Solidity enum.
``tests/domain/test_codes.py`` reads the Solidity sources the committed artifacts were compiled from and fails
when either side changes alone, so a value written here is the value the contract stores.

The words of the HTTP API and of the CLI (``"arbitration_institution"``, ``"licence"``, ``"sha256"``) are the
member names in lower case: :attr:`Code.word` and :meth:`Code.from_word`. Labels meant for people (Chinese and
English captions) live beside their renderers, keyed by these members.

Pure: standard library only.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Self

__all__ = [
    "AccountAction",
    "AgreementFault",
    "AgreementKind",
    "AgreementStatus",
    "AssetFault",
    "AssetJurisdiction",
    "AssetKind",
    "AssetStatus",
    "Code",
    "CreatorRole",
    "DisputeStatus",
    "HashAlgorithm",
    "IdentifierScheme",
    "Jurisdiction",
    "LicenceType",
    "Outcome",
    "PartyKind",
    "SublicenceFault",
    "SubjectKind",
    "SuspensionState",
]


class Code(IntEnum):
    """An on-chain enum: an ``IntEnum`` whose members are the Solidity enum's, in order from 0."""

    @property
    def word(self) -> str:
        """The member's name in lower case: the word the API, the index and the CLI use for it."""
        return self.name.lower()

    @classmethod
    def from_word(cls, word: str) -> Self:
        """The member whose :attr:`word` is ``word`` (exact, lower case); ``KeyError`` when there is none."""
        return cls[word.upper()]

    @classmethod
    def choices(cls) -> tuple[Self, ...]:
        """The members a caller may choose: all but ``NONE``, the contract's "unset" zero (refused on input)."""
        return tuple(m for m in cls if m.name != "NONE")

    @classmethod
    def words(cls) -> tuple[str, ...]:
        """The :attr:`word` of each of :meth:`choices`, in order."""
        return tuple(m.word for m in cls.choices())


# --- IPartyRegistry.sol -----------------------------------------------------------------------


class PartyKind(Code):
    """``IPartyRegistry.PartyKind``: what kind of entity a party is (the powerful kinds are admitted by governance)."""

    NONE = 0
    FIRM = 1
    UNIVERSITY = 2
    ARBITRATION_INSTITUTION = 3
    FINANCIAL_INSTITUTION = 4
    SERVICE_AGENCY = 5
    ASSET_VERIFIER = 6
    INDIVIDUAL = 7


class Jurisdiction(Code):
    """``IPartyRegistry.Jurisdiction``: where a party is established."""

    NONE = 0
    MAINLAND = 1
    HKSAR = 2
    OTHER = 3


class IdentifierScheme(Code):
    """``IPartyRegistry.IdentifierScheme``: which register a party's identifier comes from."""

    NONE = 0
    USCC = 1
    HKBRN = 2
    OTHER = 3
    PERSON_COMMITMENT = 4


class AccountAction(Code):
    """``IPartyRegistry.AccountAction``: what a party's signed account change does."""

    NONE = 0
    ADD = 1
    REMOVE = 2
    ROTATE = 3
    SET_THRESHOLD = 4


class SuspensionState(Code):
    """``IPartyRegistry.SuspensionState``: a party's suspension as stored (a provisional one lapses by time)."""

    NONE = 0
    PROVISIONAL = 1
    CONFIRMED = 2


# --- IEvidenceRegistry.sol --------------------------------------------------------------------


class HashAlgorithm(Code):
    """``IEvidenceRegistry.HashAlgorithm``: the algorithm of a registered content hash and of its binding."""

    NONE = 0
    SHA256 = 1
    SM3 = 2


# --- ICreatorRegistry.sol ---------------------------------------------------------------------


class CreatorRole(Code):
    """``ICreatorRegistry.CreatorRole``: what a creator named in a registration did (metadata ``creators[].role``)."""

    NONE = 0
    INVENTOR = 1
    DESIGNER = 2
    AUTHOR = 3
    CONTRIBUTOR = 4


# --- IIPAssetRegistry.sol ---------------------------------------------------------------------


class AssetJurisdiction(Code):
    """``IIPAssetRegistry.AssetJurisdiction``: the patent office of an asset (the API writes the names upper case)."""

    NONE = 0
    CN = 1
    HK = 2
    PCT = 3
    OTHER = 4


class AssetKind(Code):
    """``IIPAssetRegistry.AssetKind``: the kind of patent right, which must fit the jurisdiction."""

    NONE = 0
    INVENTION = 1
    UTILITY_MODEL = 2
    DESIGN = 3
    STANDARD_PATENT_R = 4
    STANDARD_PATENT_O = 5
    SHORT_TERM_PATENT = 6
    PCT_APPLICATION = 7
    OTHER_PATENT = 8


class AssetStatus(Code):
    """``IIPAssetRegistry.AssetStatus``: a claim until an asset verifier confirms it (or strikes it)."""

    CLAIMED = 0
    CONFIRMED = 1
    STRUCK = 2


class AgreementKind(Code):
    """``IIPAssetRegistry.AgreementKind``: what signed terms do to an asset."""

    NONE = 0
    ASSIGNMENT = 1
    LICENCE = 2
    EQUITY_CONTRIBUTION = 3
    PLEDGE = 4

    @property
    def termed(self) -> bool:
        """Licences and pledges run for a term; assignments and contributions are complete once in effect."""
        return self in (AgreementKind.LICENCE, AgreementKind.PLEDGE)

    @property
    def roles(self) -> tuple[str, str]:
        """What the agreement calls ``(the owners' side, the grantees' side)``: ``("licensor", "licensee")``."""
        return _ROLES.get(self, ("grantor", "grantee"))


_ROLES = {
    AgreementKind.ASSIGNMENT: ("assignor", "assignee"),
    AgreementKind.LICENCE: ("licensor", "licensee"),
    AgreementKind.EQUITY_CONTRIBUTION: ("contributor", "company"),
    AgreementKind.PLEDGE: ("pledgor", "pledgee"),
}


class LicenceType(Code):
    """``IIPAssetRegistry.LicenceType``: 独占 exclusive, 排他 sole, 普通 ordinary (narrower as the value grows)."""

    NONE = 0
    EXCLUSIVE = 1
    SOLE = 2
    ORDINARY = 3


class AgreementStatus(Code):
    """``IIPAssetRegistry.AgreementStatus``: where an agreement stands.

    ``WITHDRAWN``: a party withdrew its consent before execution, the terms never take effect.
    ``ENDED_WITH_PARENT``: reported, never stored: a sublicence whose parent licence was terminated or voided.
    """

    NONE = 0
    EFFECTIVE = 1
    TERMINATED = 2
    RELEASED = 3
    VOIDED = 4
    WITHDRAWN = 5
    ENDED_WITH_PARENT = 6


# --- IPAssetRegistry.sol (reason codes of AssetInvalid, AgreementInvalid, SublicenceOutsideParent) -----------


class AssetFault(Code):
    """``IPAssetRegistry.AssetFault``: the ``reason`` of an ``AssetInvalid`` revert."""

    JURISDICTION_AND_KIND = 0
    NUMBER = 1
    REGISTRY_FULL = 2
    OWNERS_AND_SHARES = 3
    UNKNOWN_OWNER = 4
    OWNER_LISTED_TWICE = 5


class AgreementFault(Code):
    """``IPAssetRegistry.AgreementFault``: the ``reason`` of an ``AgreementInvalid`` revert."""

    ONLY_LICENCES_AND_PLEDGES_TERMINATE = 0
    NOT_A_PLEDGE = 1
    EQUITY_TO_ONE_COMPANY = 2
    COMPANY_NEEDS_USCC = 3
    ONE_GRANTEE_NO_SHARES = 4
    UNKNOWN_GRANTEE = 5
    END_BEFORE_START = 6
    TERM_ENDED = 7
    LICENCE_TYPE = 8
    TERRITORY = 9
    PLEDGEE_NOT_FINANCIAL = 10
    KIND = 11
    PARENT_LICENCE = 12
    GRANTOR_IS_GRANTEE = 13


class SublicenceFault(Code):
    """``IPAssetRegistry.SublicenceFault``: the ``reason`` of a ``SublicenceOutsideParent`` revert."""

    NO_SUCH_LICENCE = 0
    PARENT_NOT_IN_FORCE = 1
    PARENT_NOT_SUBLICENSABLE = 2
    SUBLICENCE_OF_SUBLICENCE = 3
    LICENCE_TYPE = 4
    TERRITORY = 5
    FIELD_OF_USE = 6
    TERM = 7


# --- IDisputeRegistry.sol ---------------------------------------------------------------------


class SubjectKind(Code):
    """``IDisputeRegistry.SubjectKind``: what a dispute is about."""

    NONE = 0
    ASSET = 1
    AGREEMENT = 2
    EVIDENCE = 3


class Outcome(Code):
    """``IDisputeRegistry.Outcome``: the arbitral award's effect on the ledger."""

    NONE = 0
    DISMISSED = 1
    AGREEMENT_VOIDED = 2
    TITLE_RESTORED = 3


class DisputeStatus(Code):
    """``IDisputeRegistry.DisputeStatus``: an open dispute freezes its asset until it is closed."""

    NONE = 0
    OPEN = 1
    CLOSED = 2
