// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title IIPAssetRegistry
/// @notice Patents and applications with their owners and shares (the chain of title), and the agreements
/// that change or encumber them: assignment (转让), licence (许可), equity contribution (作价入股) and
/// pledge (质押). An agreement takes effect only in one transaction carrying an EIP-712 signature of every
/// party it needs; the rules of title are enforced here. The dispute effects (freeze, unfreeze, void,
/// restore title) answer to one caller only: the dispute registry fixed when this contract was deployed.
/// There is no administrator.
///
/// Registering a number records a *claim*. No agreement of any kind is executed on an asset until an asset
/// verifier (an active party of kind `AssetVerifier`, admitted by governance, that owns no share of it) has
/// confirmed it against the patent office's register; a verifier may instead reject a false claim, which frees
/// the number for a new claim. A confirmed asset is never un-confirmed by a verifier: only an arbitral award
/// changes a confirmed title.
interface IIPAssetRegistry {
    /// @notice Where a right is granted. Values are stable and part of the ABI.
    enum AssetJurisdiction {
        None,
        CN,
        HK,
        PCT,
        Other
    }

    /// @notice What the right is.
    enum AssetKind {
        None,
        Invention,
        UtilityModel,
        Design,
        StandardPatentR,
        StandardPatentO,
        ShortTermPatent,
        PctApplication,
        OtherPatent
    }

    /// @notice Where an asset's registration stands. `Claimed`: registered, not yet confirmed by an asset
    /// verifier, so nothing can be executed on it. `Confirmed`: a verifier checked it against the register.
    /// `Struck`: a verifier rejected the claim; the number is free for a new claim and this asset is dead.
    enum AssetStatus {
        Claimed,
        Confirmed,
        Struck
    }

    /// @notice Agreement types.
    enum AgreementKind {
        None,
        Assignment,
        Licence,
        EquityContribution,
        Pledge
    }

    /// @notice Licence types: exclusive (独占), sole (排他), ordinary (普通).
    enum LicenceType {
        None,
        Exclusive,
        Sole,
        Ordinary
    }

    /// @notice Agreement status. Expiry is not stored: an effective agreement past its end is expired.
    /// `Withdrawn`: a party withdrew its consent before execution; the terms can never take effect.
    /// `EndedWithParent` is never stored: the `agreement` view reports it for a sublicence whose parent
    /// licence was terminated or voided (the sublicence ended with it, at the parent's `closedAt`).
    enum AgreementStatus {
        None,
        Effective,
        Terminated,
        Released,
        Voided,
        Withdrawn,
        EndedWithParent
    }

    /// @notice An asset registration, signed by an account of every owner.
    /// @param numberHash keccak-256 of the normalised number (e.g. "CN201710601862.3"); unique among the claims
    /// not struck.
    /// @param owners Owner party ids, at most `MAX_OWNERS`, no repeats.
    /// @param shares Owner shares in basis points, summing to 10,000.
    /// @param detailsHash SHA-256 of the canonical JSON of title, dates and linked evidence (off chain).
    struct AssetRegistration {
        AssetJurisdiction jurisdiction;
        AssetKind kind;
        bytes32 numberHash;
        uint256[] owners;
        uint16[] shares;
        bytes32 detailsHash;
        uint64 deadline;
    }

    /// @notice The terms every party signs. The grantors are the asset's owners when it takes effect, or the
    /// parent licence's licensee for a sublicence; they are not listed, so a change of title voids
    /// outstanding signatures.
    /// @param grantees Assignees, the licensee, the company, or the pledgee (one party except for assignment).
    /// @param shares For assignment and equity contribution: the new owners' shares in basis points (sum 10,000).
    /// @param territory Bit i set = the i-th ISO 3166-1 alpha-2 code in `docs/agreements.md` (CN and HK distinct).
    /// @param fieldOfUse keccak-256 of the normalised field of use; 0 = every field.
    /// @param parentLicence The licence a sublicence is granted under, or 0.
    /// @param start Unix time the agreement takes effect from; `end` exclusive (0 = no end, not for licences).
    /// @param documentHash Hash of the signed contract document (never on chain itself).
    /// @param detailsHash SHA-256 of the canonical JSON of the type-specific terms (royalty, values, amount).
    /// @param salt Distinguishes agreements with otherwise equal terms.
    /// @param deadline Last block time at which the signatures may be submitted; at most
    /// `MAX_SIGNING_WINDOW` (365 days) after the block that submits them.
    struct Terms {
        AgreementKind kind;
        uint256 assetId;
        uint256[] grantees;
        uint16[] shares;
        LicenceType licenceType;
        uint256 territory;
        bytes32 fieldOfUse;
        bool sublicensable;
        bytes32 parentLicence;
        uint64 start;
        uint64 end;
        bytes32 documentHash;
        bytes32 detailsHash;
        bytes32 salt;
        uint64 deadline;
    }

    /// @notice A signature by one party account (ECDSA, or whatever its ERC-1271 wallet accepts).
    struct PartySignature {
        address signer;
        bytes signature;
    }

    /// @notice An agreement as stored; id = the EIP-712 struct hash of its terms.
    struct Agreement {
        AgreementKind kind;
        AgreementStatus status;
        LicenceType licenceType;
        bool sublicensable;
        uint64 start;
        uint64 end;
        uint64 effectiveAt;
        uint64 closedAt;
        uint256 assetId;
        uint256 territory;
        bytes32 fieldOfUse;
        bytes32 parentLicence;
        uint256[] grantors;
        uint256[] grantees;
    }

    event AssetRegistered(
        uint256 indexed assetId,
        bytes32 indexed numberHash,
        AssetJurisdiction jurisdiction,
        AssetKind kind,
        uint256[] owners,
        uint16[] shares,
        bytes32 detailsHash
    );
    event TitleTransferred(uint256 indexed assetId, bytes32 indexed agreementId, uint256[] owners, uint16[] shares);
    event AgreementExecuted(
        bytes32 indexed agreementId, uint256 indexed assetId, AgreementKind indexed kind, bytes32 documentHash, bytes32 detailsHash
    );
    event AgreementSigned(bytes32 indexed agreementId, uint256 indexed partyId, address signer);
    event AgreementTerminated(bytes32 indexed agreementId, uint256 indexed assetId);
    event PledgeReleased(bytes32 indexed agreementId, uint256 indexed assetId);
    event AssetFrozen(uint256 indexed assetId, bytes32 indexed disputeId);
    event AgreementVoided(bytes32 indexed agreementId, uint256 indexed assetId, bytes32 indexed disputeId);
    event TitleRestored(uint256 indexed assetId, bytes32 indexed disputeId, uint256[] owners, uint16[] shares);
    event AssetUnfrozen(uint256 indexed assetId, bytes32 indexed disputeId);
    /// @notice An asset verifier confirmed a claim against the register (`registerExtractHash`: hash of the extract
    /// or search result it checked, kept off chain).
    event AssetConfirmed(uint256 indexed assetId, uint256 indexed verifierPartyId, bytes32 registerExtractHash);
    /// @notice An asset verifier rejected an unconfirmed claim; the number is free again.
    event ClaimRejected(uint256 indexed assetId, uint256 indexed verifierPartyId, bytes32 reasonHash);
    /// @notice An arbitral award set aside the claim of `formerOwners` (a squatter's, for instance) and gave the
    /// asset to the owners in the `TitleRestored` event that follows.
    event ClaimStruck(uint256 indexed assetId, bytes32 indexed disputeId, uint256[] formerOwners);
    /// @notice A party withdrew its consent to terms before they took effect (`partyId` signed `Withdrawal`).
    event AgreementWithdrawn(bytes32 indexed agreementId, uint256 indexed assetId, uint256 indexed partyId, address signer);

    /// @notice Registers an asset; every owner signs `AssetRegistration`. Anyone may submit.
    function registerAsset(AssetRegistration calldata registration, PartySignature[] calldata signatures)
        external
        returns (uint256 assetId);

    /// @notice An asset verifier confirms a claim: sent by the verifier's account itself (empty `signature`),
    /// or relayed by anyone with the account's EIP-712 signature of
    /// `AssetConfirmation(uint256 assetId,bytes32 registerExtractHash,uint64 deadline)`. The account belongs to an
    /// active party of kind `AssetVerifier` that owns no share of the asset; the asset is `Claimed` and not frozen.
    function confirmAsset(uint256 assetId, bytes32 registerExtractHash, address verifier, uint64 deadline, bytes calldata signature)
        external;

    /// @notice An asset verifier rejects an unconfirmed claim it found false (same authorisation as
    /// `confirmAsset`, signing `ClaimRejection(uint256 assetId,bytes32 reasonHash,uint64 deadline)`); the asset is
    /// `Struck` and its number is free for a new claim (`assetByNumber` then names the newest claim).
    function rejectClaim(uint256 assetId, bytes32 reasonHash, address verifier, uint64 deadline, bytes calldata signature) external;

    /// @notice Where an asset's registration stands (reverts `AssetUnknown` if there is no such asset).
    function assetStatus(uint256 assetId) external view returns (AssetStatus);

    /// @notice Puts an agreement into effect; all-or-nothing. The asset must be `Confirmed`. Anyone may submit once every party has signed.
    /// @return agreementId The EIP-712 struct hash of `terms`.
    function execute(Terms calldata terms, PartySignature[] calldata signatures) external returns (bytes32 agreementId);

    /// @notice Ends an effective licence or pledge by the joint signature of all its parties
    /// (`Termination(bytes32 agreementId,uint64 deadline)`).
    function terminate(bytes32 agreementId, uint64 deadline, PartySignature[] calldata signatures) external;

    /// @notice Releases a pledge; the pledgee signs `Release(bytes32 agreementId,uint64 deadline)`. Refused
    /// while the asset is frozen by an open dispute. A suspended pledgee may still release: a release only frees
    /// the owner's asset, so a suspension never blocks it.
    function releasePledge(bytes32 agreementId, uint64 deadline, PartySignature calldata pledgee) external;

    /// @notice Withdraws a party's consent to terms before they take effect: the agreement id is closed for
    /// ever (`AgreementWithdrawn`), so no signature already given for it can be used. The signer is an
    /// account of a party to the terms as they stand now (a grantee, a current owner, the parent licence's
    /// licensee for a sublicence, or the pledgee of the asset) and signs
    /// `Withdrawal(bytes32 agreementId,uint64 deadline)`; a suspended party may withdraw. Anyone may submit.
    function withdraw(Terms calldata terms, uint64 deadline, PartySignature calldata signature) external;

    /// @notice Freezes an asset while the dispute `disputeId` over it is open. Dispute registry only.
    function freezeAsset(uint256 assetId, bytes32 disputeId) external;

    /// @notice Lifts the freeze that `disputeId` put on the asset, when that dispute closes. Dispute registry
    /// only; no other freeze can be lifted by it.
    function unfreezeAsset(uint256 assetId, bytes32 disputeId) external;

    /// @notice Voids an agreement by an arbitral award: an effective licence or pledge stops being in force
    /// (and the sublicences of a licence end with it); a transfer that made the asset's current title gives
    /// the title back to its assignors (or contributors) with their shares (`TitleRestored`); a transfer
    /// followed by another change of title is voided in the record only. Voiding a voided agreement changes
    /// nothing, so an award is always recorded. Dispute registry only.
    function voidAgreement(bytes32 agreementId, bytes32 disputeId) external;

    /// @notice Restores title to named owners by an arbitral award (shares sum to 10,000): the former owners'
    /// claim is struck (`ClaimStruck`), then `TitleRestored`. The asset keeps its number and its status (a claim
    /// given to its rightful owner still needs a verifier's confirmation). Dispute registry only.
    function restoreTitle(uint256 assetId, uint256[] calldata owners, uint16[] calldata shares, bytes32 disputeId) external;

    /// @notice The dispute registry: the only caller of the four dispute effects, fixed at deployment.
    function disputeRegistry() external view returns (address);

    /// @notice The asset's current owners and shares, and whether it is frozen.
    function asset(uint256 assetId)
        external
        view
        returns (AssetJurisdiction jurisdiction, AssetKind kind, uint256[] memory owners, uint16[] memory shares, bool frozen);

    /// @notice The asset id registered under a number hash (0 if none): the latest claim, a struck one's number
    /// being free for a new claim.
    function assetByNumber(bytes32 numberHash) external view returns (uint256);

    /// @notice An agreement; `status == None` when unknown, `EndedWithParent` for a sublicence whose parent
    /// licence was terminated or voided.
    function agreement(bytes32 agreementId) external view returns (Agreement memory);

    /// @notice The licences of an asset still effective and not expired at `time`, sublicences included (a
    /// sublicence only while its parent licence is effective).
    function licencesInForce(uint256 assetId, uint64 time) external view returns (bytes32[] memory);

    /// @notice The pledge encumbering an asset at `time`, or 0.
    function pledgeInForce(uint256 assetId, uint64 time) external view returns (bytes32);

    /// @notice The EIP-712 struct hash (the agreement id) of terms; parties sign its EIP-712 digest under
    /// `domainSeparator()`.
    function hashTerms(Terms calldata terms) external pure returns (bytes32);

    /// @notice The EIP-712 domain separator of this contract.
    function domainSeparator() external view returns (bytes32);
}
