// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {IIPAssetRegistry} from "./interfaces/IIPAssetRegistry.sol";
import {IPartyRegistry} from "./interfaces/IPartyRegistry.sol";
import {SignatureDeadlineTooFar, SignatureExpired} from "./common/Errors.sol";

/// @title IPAssetRegistry
/// @notice Assets, their chain of title, and the four agreement types, with the rules of title enforced here:
/// only current owners grant and every co-owner signs; exclusive and sole licences exclude every overlapping
/// licence (territory, field and term); a pledged asset moves or is exclusively licensed only with the
/// pledgee's signature; a suspended party signs nothing; a frozen (disputed) asset changes nothing; shares
/// always sum to 10,000 basis points; a sublicence lies inside its parent and ends with it; nothing is executed
/// on an asset before an asset verifier has confirmed its claim.
/// @dev No administrator and no roles: the dispute effects answer to the dispute registry whose address is
/// an immutable set by the constructor. Deployment computes that address in advance (the deployer's next
/// CREATE address) and the dispute registry's constructor checks it is the one bound here, so there is no
/// setter, no window in which anyone holds the power, and nothing any key can re-grant.
contract IPAssetRegistry is IIPAssetRegistry, EIP712 {
    /// @notice AssetRegistration(uint8 jurisdiction,uint8 kind,bytes32 numberHash,uint256[] owners,uint16[] shares,bytes32 detailsHash,uint64 deadline)
    bytes32 public constant ASSET_REGISTRATION_TYPEHASH = keccak256(
        "AssetRegistration(uint8 jurisdiction,uint8 kind,bytes32 numberHash,uint256[] owners,uint16[] shares,bytes32 detailsHash,uint64 deadline)"
    );
    /// @notice Terms(uint8 kind,uint256 assetId,uint256[] grantees,uint16[] shares,uint8 licenceType,uint256 territory,bytes32 fieldOfUse,bool sublicensable,bytes32 parentLicence,uint64 start,uint64 end,bytes32 documentHash,bytes32 detailsHash,bytes32 salt,uint64 deadline)
    bytes32 public constant TERMS_TYPEHASH = keccak256(
        "Terms(uint8 kind,uint256 assetId,uint256[] grantees,uint16[] shares,uint8 licenceType,uint256 territory,bytes32 fieldOfUse,bool sublicensable,bytes32 parentLicence,uint64 start,uint64 end,bytes32 documentHash,bytes32 detailsHash,bytes32 salt,uint64 deadline)"
    );
    /// @notice Termination(bytes32 agreementId,uint64 deadline)
    bytes32 public constant TERMINATION_TYPEHASH = keccak256("Termination(bytes32 agreementId,uint64 deadline)");
    /// @notice Release(bytes32 agreementId,uint64 deadline)
    bytes32 public constant RELEASE_TYPEHASH = keccak256("Release(bytes32 agreementId,uint64 deadline)");
    /// @notice Withdrawal(bytes32 agreementId,uint64 deadline)
    bytes32 public constant WITHDRAWAL_TYPEHASH = keccak256("Withdrawal(bytes32 agreementId,uint64 deadline)");
    /// @notice AssetConfirmation(uint256 assetId,bytes32 registerExtractHash,uint64 deadline)
    bytes32 public constant ASSET_CONFIRMATION_TYPEHASH =
        keccak256("AssetConfirmation(uint256 assetId,bytes32 registerExtractHash,uint64 deadline)");
    /// @notice ClaimRejection(uint256 assetId,bytes32 reasonHash,uint64 deadline)
    bytes32 public constant CLAIM_REJECTION_TYPEHASH = keccak256("ClaimRejection(uint256 assetId,bytes32 reasonHash,uint64 deadline)");

    uint16 public constant TOTAL_SHARES = 10_000;
    uint256 public constant MAX_OWNERS = 8;
    /// @notice Licences granted by the owners of one asset in force or pending at once.
    uint256 public constant MAX_LICENCES = 32;
    /// @notice Sublicences under one parent licence in force or pending at once (their own capacity: a
    /// licensee never uses up the owners' `MAX_LICENCES`).
    uint256 public constant MAX_SUBLICENCES = 16;
    /// @notice The furthest a signature's deadline may lie after the block that submits it.
    uint64 public constant MAX_SIGNING_WINDOW = 365 days;

    /// @notice Why an asset registration is refused (`AssetInvalid`); values are stable and part of the ABI.
    enum AssetFault {
        JurisdictionAndKind,
        Number,
        RegistryFull,
        OwnersAndShares,
        UnknownOwner,
        OwnerListedTwice
    }

    /// @notice Why terms are refused (`AgreementInvalid`); values are stable and part of the ABI.
    enum AgreementFault {
        OnlyLicencesAndPledgesTerminate,
        NotAPledge,
        EquityToOneCompany,
        CompanyNeedsUscc,
        OneGranteeNoShares,
        UnknownGrantee,
        EndBeforeStart,
        TermEnded,
        LicenceType,
        Territory,
        PledgeeNotFinancial,
        Kind,
        ParentLicence,
        GrantorIsGrantee
    }

    /// @notice Why a sublicence lies outside its parent (`SublicenceOutsideParent`); stable, part of the ABI.
    enum SublicenceFault {
        NoSuchLicence,
        ParentNotInForce,
        ParentNotSublicensable,
        SublicenceOfSublicence,
        LicenceType,
        Territory,
        FieldOfUse,
        Term
    }

    error AssetNumberTaken(bytes32 numberHash, uint256 assetId);
    error AssetUnknown(uint256 assetId);
    error AssetInvalid(AssetFault reason);
    error AssetNotConfirmed(uint256 assetId);
    error AssetStatusInvalid(uint256 assetId, AssetStatus status);
    error AssetVerifierInvalid(address account, uint256 partyId);
    error AssetVerifierIsOwner(uint256 assetId, uint256 partyId);
    error AssetIsFrozen(uint256 assetId);
    error AssetNotFrozen(uint256 assetId);
    error AssetLicenceLimitReached(uint256 assetId);
    error SharesInvalid(uint256 total);
    error AgreementAlreadyExecuted(bytes32 agreementId);
    error AgreementUnknown(bytes32 agreementId);
    error AgreementInvalid(AgreementFault reason);
    error AgreementNotEffective(bytes32 agreementId);
    error AgreementSignerNotActive(address signer);
    error AgreementSignerNotAParty(address signer, uint256 partyId);
    error AgreementSignatureDuplicate(uint256 partyId);
    error AgreementSignatureInvalid(bytes32 agreementId, address signer);
    error AgreementSignatureMissing(uint256 partyId);
    error LicenceOverlaps(bytes32 existing);
    error SublicenceOutsideParent(bytes32 parent, SublicenceFault reason);
    error SublicenceLimitReached(bytes32 parent);
    error AssetPledged(bytes32 pledge);
    error AgreementWithdrawnByParty(bytes32 agreementId);
    error AgreementWithdrawalNotAParty(bytes32 agreementId, uint256 partyId);
    error CallerNotDisputeRegistry(address caller);
    error AssetNotFrozenByDispute(uint256 assetId, bytes32 disputeId);
    error DisputeAlreadyFroze(bytes32 disputeId);

    /// @dev An agreement in two packed slots plus the licence scope; licences and pledges have one grantee.
    /// `titleSeq`: for a transfer, the number of the title it made (see `AssetData`).
    struct StoredAgreement {
        AgreementKind kind;
        AgreementStatus status;
        LicenceType licenceType;
        bool sublicensable;
        uint64 start;
        uint64 end;
        uint64 effectiveAt;
        uint64 closedAt;
        uint64 assetId;
        uint64 grantee;
        uint64 titleSeq;
        uint256 territory;
        bytes32 fieldOfUse;
        bytes32 parentLicence;
        uint256[] grantors;
    }

    /// @dev `status`: claimed, confirmed by an asset verifier, or struck (see `AssetStatus`); it shares the
    /// slot `execute` reads anyway. `titleCount` numbers every change of title (transfer or award) of the asset; `titleSeq` is the
    /// number of the title standing now (0 = as registered). A voided transfer gives title back only if its
    /// number is the one standing, and then the number standing before it stands again.
    struct AssetData {
        AssetJurisdiction jurisdiction;
        AssetKind kind;
        AssetStatus status;
        uint16 openDisputes;
        uint32 titleCount;
        uint32 titleSeq;
        bytes32 pledge;
    }

    IPartyRegistry private immutable _parties;
    address private immutable _disputes;
    uint256 private _assetCount;
    mapping(uint256 assetId => AssetData data) private _assets;
    mapping(uint256 assetId => uint256[] owners) private _owners;
    mapping(uint256 assetId => uint16[] shares) private _shares;
    mapping(bytes32 numberHash => uint256 assetId) private _assetByNumber;
    mapping(bytes32 agreementId => StoredAgreement agreement) private _agreements;
    mapping(uint256 assetId => bytes32[] licenceIds) private _licences;
    mapping(bytes32 parentId => bytes32[] sublicenceIds) private _sublicences;
    /// @dev The title a transfer replaced, packed in nine 80-bit positions (three per word, the first at the
    /// top): position 0 = the previous title number (32 bits, shifted 8) and the owner count (8 bits);
    /// position 1 + i = owner i's party id (64 bits) and share (16 bits). MAX_OWNERS = 8 fits.
    mapping(bytes32 agreementId => uint256[3] words) private _priorTitle;
    mapping(bytes32 disputeId => uint256 assetId) private _freezes;

    /// @param parties The party registry resolving signatures.
    /// @param disputes The dispute registry, the only caller of the dispute effects (its address computed
    /// before it is deployed; it checks the binding in its own constructor).
    constructor(IPartyRegistry parties, address disputes) EIP712("QianhaiIPLedger.Assets", "1") {
        _parties = parties;
        _disputes = disputes;
    }

    modifier onlyDisputeRegistry() {
        _onlyDisputes();
        _;
    }

    function _onlyDisputes() private view {
        if (msg.sender != _disputes) revert CallerNotDisputeRegistry(msg.sender);
    }

    // --- assets ---------------------------------------------------------------------------------

    /// @inheritdoc IIPAssetRegistry
    function registerAsset(AssetRegistration calldata r, PartySignature[] calldata signatures) external returns (uint256 assetId) {
        if (r.jurisdiction == AssetJurisdiction.None || r.kind == AssetKind.None) _assetInvalid(AssetFault.JurisdictionAndKind);
        if (r.numberHash == bytes32(0)) _assetInvalid(AssetFault.Number);
        uint256 taken = _assetByNumber[r.numberHash];
        // a number is claimed once, unless a verifier struck the claim
        if (taken != 0 && _assets[taken].status != AssetStatus.Struck) revert AssetNumberTaken(r.numberHash, taken);
        _checkDeadline(r.deadline);
        _checkShares(r.owners, r.shares);
        bytes32 digest = _hashTypedDataV4(
            keccak256(
                abi.encode(
                    ASSET_REGISTRATION_TYPEHASH,
                    r.jurisdiction,
                    r.kind,
                    r.numberHash,
                    keccak256(abi.encodePacked(r.owners)),
                    keccak256(abi.encodePacked(r.shares)),
                    r.detailsHash,
                    r.deadline
                )
            )
        );
        _checkSignatures(bytes32(0), digest, r.owners, signatures);
        assetId = ++_assetCount;
        if (assetId > type(uint64).max) _assetInvalid(AssetFault.RegistryFull);
        _assets[assetId] = AssetData({jurisdiction: r.jurisdiction, kind: r.kind, status: AssetStatus.Claimed, openDisputes: 0, titleCount: 0, titleSeq: 0, pledge: bytes32(0)});
        _owners[assetId] = r.owners;
        _shares[assetId] = r.shares;
        _assetByNumber[r.numberHash] = assetId;
        emit AssetRegistered(assetId, r.numberHash, r.jurisdiction, r.kind, r.owners, r.shares, r.detailsHash);
    }

    /// @inheritdoc IIPAssetRegistry
    function confirmAsset(uint256 assetId, bytes32 registerExtractHash, address verifier, uint64 deadline, bytes calldata signature)
        external
    {
        _decideClaim(ASSET_CONFIRMATION_TYPEHASH, assetId, registerExtractHash, verifier, deadline, signature);
    }

    /// @inheritdoc IIPAssetRegistry
    function rejectClaim(uint256 assetId, bytes32 reasonHash, address verifier, uint64 deadline, bytes calldata signature) external {
        _decideClaim(CLAIM_REJECTION_TYPEHASH, assetId, reasonHash, verifier, deadline, signature);
    }

    /// @dev A verifier's decision on a claim (confirmed, or rejected: struck). The asset is claimed (neither
    /// confirmed nor struck) and not frozen; `verifier` sends the call itself (no signature) or signed the
    /// decision; its party is active, of kind AssetVerifier, and owns no share of the asset.
    function _decideClaim(bytes32 typehash, uint256 assetId, bytes32 hash, address verifier, uint64 deadline, bytes calldata signature)
        private
    {
        AssetData storage a = _requireAsset(assetId);
        if (a.status != AssetStatus.Claimed) revert AssetStatusInvalid(assetId, a.status);
        if (a.openDisputes != 0) revert AssetIsFrozen(assetId);
        _checkDeadline(deadline);
        (uint256 pid, bool active) = _partyOf(verifier);
        if (pid == 0 || _party(pid).kind != IPartyRegistry.PartyKind.AssetVerifier) revert AssetVerifierInvalid(verifier, pid);
        if (!active) revert AgreementSignerNotActive(verifier);
        if (
            !(msg.sender == verifier && signature.length == 0)
                && !SignatureChecker.isValidSignatureNow(
                    verifier, _hashTypedDataV4(keccak256(abi.encode(typehash, assetId, hash, deadline))), signature
                )
        ) revert AgreementSignatureInvalid(bytes32(assetId), verifier);
        uint256[] storage owners = _owners[assetId];
        for (uint256 i = 0; i < owners.length; ++i) {
            if (owners[i] == pid) revert AssetVerifierIsOwner(assetId, pid);
        }
        if (typehash == ASSET_CONFIRMATION_TYPEHASH) {
            a.status = AssetStatus.Confirmed;
            emit AssetConfirmed(assetId, pid, hash);
        } else {
            a.status = AssetStatus.Struck; // its number may be claimed again (`registerAsset`)
            emit ClaimRejected(assetId, pid, hash);
        }
    }

    // --- agreements -----------------------------------------------------------------------------

    /// @inheritdoc IIPAssetRegistry
    function execute(Terms calldata t, PartySignature[] calldata signatures) external returns (bytes32 id) {
        id = hashTerms(t);
        AgreementStatus existing = _agreements[id].status;
        if (existing != AgreementStatus.None) {
            if (existing == AgreementStatus.Withdrawn) revert AgreementWithdrawnByParty(id);
            revert AgreementAlreadyExecuted(id);
        }
        _checkDeadline(t.deadline);
        AssetData storage a = _requireAsset(t.assetId);
        if (a.status != AssetStatus.Confirmed) revert AssetNotConfirmed(t.assetId);
        if (a.openDisputes != 0) revert AssetIsFrozen(t.assetId);
        _checkGrantees(t);

        uint256[] memory grantors = _grantors(t);
        bytes32 pledge = _pledgeInForce(a);
        bool needsPledgee = pledge != bytes32(0)
            && (t.kind == AgreementKind.Assignment || t.kind == AgreementKind.EquityContribution
                || (t.kind == AgreementKind.Licence && t.licenceType != LicenceType.Ordinary) || t.kind == AgreementKind.Pledge);
        if (t.kind == AgreementKind.Pledge && pledge != bytes32(0)) revert AssetPledged(pledge);
        uint256[] memory required = _union(grantors, t.grantees, needsPledgee ? _agreements[pledge].grantee : 0);
        _checkSignatures(id, _hashTypedDataV4(id), required, signatures);

        if (t.kind == AgreementKind.Licence) _checkLicence(t);

        StoredAgreement storage g = _agreements[id];
        g.kind = t.kind;
        g.status = AgreementStatus.Effective;
        g.effectiveAt = uint64(block.timestamp);
        g.assetId = uint64(t.assetId);
        if (t.kind == AgreementKind.Assignment || t.kind == AgreementKind.EquityContribution) {
            _transferTitle(id, t, a, g, grantors);
        } else {
            g.start = t.start;
            g.end = t.end;
            g.grantee = uint64(t.grantees[0]);
            g.grantors = grantors;
            if (t.kind == AgreementKind.Licence) {
                g.licenceType = t.licenceType;
                g.sublicensable = t.sublicensable;
                g.territory = t.territory;
                if (t.fieldOfUse != bytes32(0)) g.fieldOfUse = t.fieldOfUse;
                if (t.parentLicence != bytes32(0)) {
                    g.parentLicence = t.parentLicence;
                    _sublicences[t.parentLicence].push(id);
                } else {
                    _licences[t.assetId].push(id);
                }
            } else {
                a.pledge = id;
            }
        }
        emit AgreementExecuted(id, t.assetId, t.kind, t.documentHash, t.detailsHash);
    }

    /// @dev A transfer is complete once in effect; the title it replaced is kept (packed) so that an award
    /// voiding it can give title back to the assignors with their shares.
    function _transferTitle(bytes32 id, Terms calldata t, AssetData storage a, StoredAgreement storage g, uint256[] memory grantors)
        private
    {
        _storePriorTitle(id, a.titleSeq, grantors, _shares[t.assetId]);
        uint32 seq = ++a.titleCount;
        a.titleSeq = seq;
        g.titleSeq = seq;
        _owners[t.assetId] = t.grantees;
        _shares[t.assetId] = t.shares;
        emit TitleTransferred(t.assetId, id, t.grantees, t.shares);
    }

    /// @inheritdoc IIPAssetRegistry
    function terminate(bytes32 id, uint64 deadline, PartySignature[] calldata signatures) external {
        StoredAgreement storage g = _requireEffective(id);
        if (g.kind != AgreementKind.Licence && g.kind != AgreementKind.Pledge) {
            _invalid(AgreementFault.OnlyLicencesAndPledgesTerminate);
        }
        if (_assets[g.assetId].openDisputes != 0) revert AssetIsFrozen(g.assetId);
        _checkDeadline(deadline);
        bytes32 digest = _hashTypedDataV4(keccak256(abi.encode(TERMINATION_TYPEHASH, id, deadline)));
        _checkSignatures(id, digest, _union(g.grantors, _one(g.grantee), 0), signatures);
        g.status = AgreementStatus.Terminated;
        g.closedAt = uint64(block.timestamp);
        // An ended pledge may be closed after a newer one took the slot: clear it only if it is still this one.
        if (g.kind == AgreementKind.Pledge && _assets[g.assetId].pledge == id) _assets[g.assetId].pledge = bytes32(0);
        emit AgreementTerminated(id, g.assetId);
    }

    /// @inheritdoc IIPAssetRegistry
    function releasePledge(bytes32 id, uint64 deadline, PartySignature calldata pledgee) external {
        StoredAgreement storage g = _requireEffective(id);
        if (g.kind != AgreementKind.Pledge) _invalid(AgreementFault.NotAPledge);
        // the dispute may be about this very pledge: nothing moves until the award
        if (_assets[g.assetId].openDisputes != 0) revert AssetIsFrozen(g.assetId);
        _checkDeadline(deadline);
        // the pledgee's own account, active or suspended: a release only frees the owner's asset, so a suspension
        // (which the registrar imposes alone) never blocks it
        (uint256 pid,) = _partyOf(pledgee.signer);
        if (pid != g.grantee) revert AgreementSignerNotAParty(pledgee.signer, pid);
        bytes32 digest = _hashTypedDataV4(keccak256(abi.encode(RELEASE_TYPEHASH, id, deadline)));
        if (!SignatureChecker.isValidSignatureNow(pledgee.signer, digest, pledgee.signature)) {
            revert AgreementSignatureInvalid(id, pledgee.signer);
        }
        emit AgreementSigned(id, pid, pledgee.signer);
        g.status = AgreementStatus.Released;
        g.closedAt = uint64(block.timestamp);
        if (_assets[g.assetId].pledge == id) _assets[g.assetId].pledge = bytes32(0);
        emit PledgeReleased(id, g.assetId);
    }

    /// @inheritdoc IIPAssetRegistry
    function withdraw(Terms calldata t, uint64 deadline, PartySignature calldata signature) external {
        bytes32 id = hashTerms(t);
        StoredAgreement storage g = _agreements[id];
        if (g.status == AgreementStatus.Withdrawn) revert AgreementWithdrawnByParty(id);
        if (g.status != AgreementStatus.None) revert AgreementAlreadyExecuted(id);
        _checkDeadline(deadline);
        // a suspended party may still withdraw: withdrawing only takes away
        (uint256 pid,) = _partyOf(signature.signer);
        if (pid == 0 || !_isPartyTo(t, pid)) revert AgreementWithdrawalNotAParty(id, pid);
        bytes32 digest = _hashTypedDataV4(keccak256(abi.encode(WITHDRAWAL_TYPEHASH, id, deadline)));
        if (!SignatureChecker.isValidSignatureNow(signature.signer, digest, signature.signature)) {
            revert AgreementSignatureInvalid(id, signature.signer);
        }
        g.kind = t.kind;
        g.status = AgreementStatus.Withdrawn;
        g.closedAt = uint64(block.timestamp);
        g.assetId = uint64(t.assetId);
        emit AgreementWithdrawn(id, t.assetId, pid, signature.signer);
    }

    /// @inheritdoc IIPAssetRegistry
    function freezeAsset(uint256 assetId, bytes32 disputeId) external onlyDisputeRegistry {
        AssetData storage a = _requireAsset(assetId);
        // a struck claim is dead and its number may be claimed again: there is nothing left to dispute on it
        if (a.status == AssetStatus.Struck) revert AssetStatusInvalid(assetId, a.status);
        if (_freezes[disputeId] != 0) revert DisputeAlreadyFroze(disputeId);
        _freezes[disputeId] = assetId;
        a.openDisputes += 1;
        emit AssetFrozen(assetId, disputeId);
    }

    /// @inheritdoc IIPAssetRegistry
    function unfreezeAsset(uint256 assetId, bytes32 disputeId) external onlyDisputeRegistry {
        AssetData storage a = _assets[assetId]; // exists: it was frozen by this dispute
        if (_freezes[disputeId] != assetId) revert AssetNotFrozenByDispute(assetId, disputeId);
        delete _freezes[disputeId];
        a.openDisputes -= 1;
        emit AssetUnfrozen(assetId, disputeId);
    }

    /// @inheritdoc IIPAssetRegistry
    function voidAgreement(bytes32 id, bytes32 disputeId) external onlyDisputeRegistry {
        StoredAgreement storage g = _agreements[id];
        if (g.status == AgreementStatus.None || g.status == AgreementStatus.Withdrawn) revert AgreementUnknown(id);
        if (g.status == AgreementStatus.Voided) return; // voided by an earlier award: this one is recorded all the same
        g.status = AgreementStatus.Voided;
        g.closedAt = uint64(block.timestamp);
        uint256 assetId = g.assetId;
        AssetData storage a = _assets[assetId];
        if (g.kind == AgreementKind.Pledge && a.pledge == id) a.pledge = bytes32(0);
        emit AgreementVoided(id, assetId, disputeId);
        if ((g.kind == AgreementKind.Assignment || g.kind == AgreementKind.EquityContribution) && g.titleSeq == a.titleSeq) {
            (uint256[] memory owners, uint16[] memory shares, uint32 previous) = _loadPriorTitle(id);
            _owners[assetId] = owners;
            _shares[assetId] = shares;
            a.titleSeq = previous;
            emit TitleRestored(assetId, disputeId, owners, shares);
        }
    }

    /// @inheritdoc IIPAssetRegistry
    function restoreTitle(uint256 assetId, uint256[] calldata owners, uint16[] calldata shares, bytes32 disputeId)
        external
        onlyDisputeRegistry
    {
        AssetData storage a = _requireAsset(assetId);
        _checkShares(owners, shares);
        emit ClaimStruck(assetId, disputeId, _owners[assetId]);
        _owners[assetId] = owners;
        _shares[assetId] = shares;
        a.titleSeq = ++a.titleCount;
        emit TitleRestored(assetId, disputeId, owners, shares);
    }

    /// @inheritdoc IIPAssetRegistry
    function disputeRegistry() external view returns (address) {
        return _disputes;
    }

    // --- views ----------------------------------------------------------------------------------

    /// @inheritdoc IIPAssetRegistry
    function asset(uint256 assetId)
        external
        view
        returns (AssetJurisdiction, AssetKind, uint256[] memory, uint16[] memory, bool)
    {
        AssetData storage a = _requireAsset(assetId);
        return (a.jurisdiction, a.kind, _owners[assetId], _shares[assetId], a.openDisputes != 0);
    }

    /// @inheritdoc IIPAssetRegistry
    function assetByNumber(bytes32 numberHash) external view returns (uint256) {
        return _assetByNumber[numberHash];
    }

    /// @inheritdoc IIPAssetRegistry
    function assetStatus(uint256 assetId) external view returns (AssetStatus) {
        return _requireAsset(assetId).status;
    }

    /// @notice How many assets have been registered.
    function assetCount() external view returns (uint256) {
        return _assetCount;
    }

    /// @inheritdoc IIPAssetRegistry
    function agreement(bytes32 id) external view returns (Agreement memory a) {
        StoredAgreement storage g = _agreements[id];
        a.kind = g.kind;
        a.status = g.status;
        if (g.status == AgreementStatus.Effective && g.parentLicence != bytes32(0)) {
            StoredAgreement storage p = _agreements[g.parentLicence];
            if (p.status != AgreementStatus.Effective) {
                a.status = AgreementStatus.EndedWithParent;
                a.closedAt = p.closedAt;
            }
        }
        a.licenceType = g.licenceType;
        a.sublicensable = g.sublicensable;
        a.start = g.start;
        a.end = g.end;
        a.effectiveAt = g.effectiveAt;
        if (a.closedAt == 0) a.closedAt = g.closedAt;
        a.assetId = g.assetId;
        a.territory = g.territory;
        a.fieldOfUse = g.fieldOfUse;
        a.parentLicence = g.parentLicence;
        a.grantors = g.grantors;
        a.grantees = g.grantee == 0 ? new uint256[](0) : _one(g.grantee);
    }

    /// @inheritdoc IIPAssetRegistry
    /// @dev One pass into an array of the largest possible size (the owners' list holds at most MAX_LICENCES,
    /// each parent at most MAX_SUBLICENCES), cut to length at the end.
    function licencesInForce(uint256 assetId, uint64 time) external view returns (bytes32[] memory ids) {
        ids = new bytes32[](MAX_LICENCES * (MAX_SUBLICENCES + 1));
        uint256 n;
        bytes32[] storage all = _licences[assetId];
        for (uint256 i = 0; i < all.length; ++i) {
            StoredAgreement storage g = _agreements[all[i]];
            if (g.status != AgreementStatus.Effective) continue; // its sublicences ended with it
            if (g.start <= time && time < g.end) ids[n++] = all[i];
            bytes32[] storage subs = _sublicences[all[i]];
            for (uint256 j = 0; j < subs.length; ++j) {
                StoredAgreement storage s = _agreements[subs[j]];
                if (s.status == AgreementStatus.Effective && s.start <= time && time < s.end) ids[n++] = subs[j];
            }
        }
        assembly {
            mstore(ids, n)
        }
    }

    /// @inheritdoc IIPAssetRegistry
    function pledgeInForce(uint256 assetId, uint64 time) external view returns (bytes32) {
        bytes32 id = _assets[assetId].pledge;
        StoredAgreement storage g = _agreements[id];
        return id != bytes32(0) && g.start <= time && (g.end == 0 || time < g.end) ? id : bytes32(0);
    }

    /// @notice The pledge encumbering an asset now (started or not), as `execute` sees it; 0 when none.
    function pledgeOf(uint256 assetId) external view returns (bytes32) {
        return _pledgeInForce(_requireAsset(assetId));
    }

    /// @notice The parties resolving signatures (the evidence contract's party registry).
    function partyRegistry() external view returns (IPartyRegistry) {
        return _parties;
    }

    /// @inheritdoc IIPAssetRegistry
    function hashTerms(Terms calldata t) public pure returns (bytes32) {
        return keccak256(
            bytes.concat(
                abi.encode(
                    TERMS_TYPEHASH,
                    t.kind,
                    t.assetId,
                    keccak256(abi.encodePacked(t.grantees)),
                    keccak256(abi.encodePacked(t.shares)),
                    t.licenceType,
                    t.territory,
                    t.fieldOfUse
                ),
                abi.encode(t.sublicensable, t.parentLicence, t.start, t.end, t.documentHash, t.detailsHash, t.salt, t.deadline)
            )
        );
    }

    /// @inheritdoc IIPAssetRegistry
    function domainSeparator() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    // --- rules ----------------------------------------------------------------------------------

    function _requireAsset(uint256 assetId) private view returns (AssetData storage a) {
        a = _assets[assetId];
        if (a.kind == AssetKind.None) revert AssetUnknown(assetId);
    }

    function _requireEffective(bytes32 id) private view returns (StoredAgreement storage g) {
        g = _agreements[id];
        if (g.status == AgreementStatus.None || g.status == AgreementStatus.Withdrawn) revert AgreementUnknown(id);
        if (g.status != AgreementStatus.Effective) revert AgreementNotEffective(id);
        // a sublicence ended with its parent
        if (g.parentLicence != bytes32(0) && _agreements[g.parentLicence].status != AgreementStatus.Effective) {
            revert AgreementNotEffective(id);
        }
    }

    /// @dev Signatures expire, and may not be made to last more than `MAX_SIGNING_WINDOW`.
    function _checkDeadline(uint64 deadline) private view {
        if (block.timestamp > deadline) revert SignatureExpired(deadline, uint64(block.timestamp));
        if (deadline > block.timestamp + MAX_SIGNING_WINDOW) {
            revert SignatureDeadlineTooFar(deadline, uint64(block.timestamp + MAX_SIGNING_WINDOW));
        }
    }

    /// @dev Whether the party is a party to the terms as they stand now: a grantee, a current owner, the
    /// parent licence's licensee, or the asset's pledgee.
    function _isPartyTo(Terms calldata t, uint256 pid) private view returns (bool) {
        for (uint256 i = 0; i < t.grantees.length; ++i) {
            if (t.grantees[i] == pid) return true;
        }
        uint256[] storage owners = _owners[t.assetId];
        for (uint256 i = 0; i < owners.length; ++i) {
            if (owners[i] == pid) return true;
        }
        if (t.parentLicence != bytes32(0) && _agreements[t.parentLicence].grantee == pid) return true;
        bytes32 pledge = _pledgeInForce(_assets[t.assetId]); // the pledgee whose consent execute would need
        return pledge != bytes32(0) && _agreements[pledge].grantee == pid;
    }

    function _storePriorTitle(bytes32 id, uint32 seq, uint256[] memory owners, uint16[] storage shares) private {
        uint256 n = owners.length;
        uint256[3] memory w;
        w[0] = (uint256(seq) << 168) | (n << 160); // position 0: the header
        for (uint256 i = 0; i < n; ++i) {
            uint256 p = i + 1;
            w[p / 3] |= ((uint256(uint64(owners[i])) << 16) | shares[i]) << (80 * (2 - p % 3));
        }
        for (uint256 k = 0; k <= n / 3; ++k) {
            _priorTitle[id][k] = w[k];
        }
    }

    function _loadPriorTitle(bytes32 id) private view returns (uint256[] memory owners, uint16[] memory shares, uint32 seq) {
        uint256[3] storage w = _priorTitle[id];
        uint256 head = w[0];
        seq = uint32(head >> 168);
        uint256 n = uint8(head >> 160);
        owners = new uint256[](n);
        shares = new uint16[](n);
        for (uint256 i = 0; i < n; ++i) {
            uint256 p = i + 1;
            uint256 pair = w[p / 3] >> (80 * (2 - p % 3));
            owners[i] = uint64(pair >> 16);
            shares[i] = uint16(pair);
        }
    }

    function _pledgeInForce(AssetData storage a) private view returns (bytes32) {
        bytes32 id = a.pledge;
        if (id == bytes32(0)) return id;
        StoredAgreement storage g = _agreements[id];
        return g.end == 0 || block.timestamp < g.end ? id : bytes32(0);
    }

    function _checkShares(uint256[] calldata owners, uint16[] calldata shares) private view {
        if (owners.length == 0 || owners.length > MAX_OWNERS || owners.length != shares.length) {
            _assetInvalid(AssetFault.OwnersAndShares);
        }
        uint256 total;
        uint256 count = _partyCount();
        for (uint256 i = 0; i < owners.length; ++i) {
            if (owners[i] == 0 || owners[i] > count) _assetInvalid(AssetFault.UnknownOwner);
            if (shares[i] == 0) revert SharesInvalid(0);
            total += shares[i];
            for (uint256 j = 0; j < i; ++j) {
                if (owners[j] == owners[i]) _assetInvalid(AssetFault.OwnerListedTwice);
            }
        }
        if (total != TOTAL_SHARES) revert SharesInvalid(total);
    }

    function _checkGrantees(Terms calldata t) private view {
        if (t.kind == AgreementKind.Assignment || t.kind == AgreementKind.EquityContribution) {
            _checkShares(t.grantees, t.shares);
            if (t.kind == AgreementKind.EquityContribution) {
                if (t.grantees.length != 1) _invalid(AgreementFault.EquityToOneCompany);
                if (_party(t.grantees[0]).scheme != IPartyRegistry.IdentifierScheme.USCC) {
                    _invalid(AgreementFault.CompanyNeedsUscc);
                }
            }
            return;
        }
        if (t.grantees.length != 1 || t.shares.length != 0) _invalid(AgreementFault.OneGranteeNoShares);
        if (t.grantees[0] == 0 || t.grantees[0] > _partyCount()) _invalid(AgreementFault.UnknownGrantee);
        if (t.end <= t.start) _invalid(AgreementFault.EndBeforeStart);
        if (t.end <= block.timestamp) _invalid(AgreementFault.TermEnded);
        if (t.kind == AgreementKind.Licence) {
            if (t.licenceType == LicenceType.None) _invalid(AgreementFault.LicenceType);
            if (t.territory == 0) _invalid(AgreementFault.Territory);
        } else if (t.kind == AgreementKind.Pledge) {
            if (_party(t.grantees[0]).kind != IPartyRegistry.PartyKind.FinancialInstitution) {
                _invalid(AgreementFault.PledgeeNotFinancial);
            }
        } else {
            _invalid(AgreementFault.Kind);
        }
    }

    /// @dev The asset's owners, or for a sublicence the parent licence's licensee.
    function _grantors(Terms calldata t) private view returns (uint256[] memory grantors) {
        if (t.kind == AgreementKind.Licence && t.parentLicence != bytes32(0)) {
            StoredAgreement storage p = _agreements[t.parentLicence];
            if (p.kind != AgreementKind.Licence || p.assetId != t.assetId) _outside(t.parentLicence, SublicenceFault.NoSuchLicence);
            if (p.status != AgreementStatus.Effective || p.end <= block.timestamp) _outside(t.parentLicence, SublicenceFault.ParentNotInForce);
            if (!p.sublicensable) _outside(t.parentLicence, SublicenceFault.ParentNotSublicensable);
            if (p.parentLicence != bytes32(0)) _outside(t.parentLicence, SublicenceFault.SublicenceOfSublicence);
            // same or narrower type: Exclusive < Sole < Ordinary, so an ordinary licensee grants only ordinary ones
            if (t.licenceType < p.licenceType) _outside(t.parentLicence, SublicenceFault.LicenceType);
            if (t.territory & ~p.territory != 0) _outside(t.parentLicence, SublicenceFault.Territory);
            if (p.fieldOfUse != bytes32(0) && t.fieldOfUse != p.fieldOfUse) _outside(t.parentLicence, SublicenceFault.FieldOfUse);
            if (t.start < p.start || t.end > p.end) _outside(t.parentLicence, SublicenceFault.Term);
            grantors = _one(p.grantee);
        } else {
            if (t.kind != AgreementKind.Licence && t.parentLicence != bytes32(0)) _invalid(AgreementFault.ParentLicence);
            grantors = _owners[t.assetId];
        }
        for (uint256 i = 0; i < grantors.length; ++i) {
            for (uint256 j = 0; j < t.grantees.length; ++j) {
                if (grantors[i] == t.grantees[j]) _invalid(AgreementFault.GrantorIsGrantee);
            }
        }
    }

    /// @dev Exclusive and sole licences exclude every licence overlapping in term, territory and field; two
    /// ordinary licences never exclude each other. The owners' licences are checked against each other; a
    /// sublicence against its siblings only: it lies inside its parent and is no broader in type, so anything
    /// it could overlap outside the family already overlaps the parent, which was checked (and a licence that
    /// overlaps the sublicence overlaps the parent too). Ended licences are pruned from the list here, which
    /// keeps it bounded by MAX_LICENCES (owners' licences) or MAX_SUBLICENCES (per parent).
    function _checkLicence(Terms calldata t) private {
        bool sub = t.parentLicence != bytes32(0);
        bytes32[] storage list = sub ? _sublicences[t.parentLicence] : _licences[t.assetId];
        uint256 i = 0;
        while (i < list.length) {
            bytes32 other = list[i];
            StoredAgreement storage o = _agreements[other];
            if (o.status != AgreementStatus.Effective || o.end <= block.timestamp) {
                list[i] = list[list.length - 1];
                list.pop();
                continue;
            }
            bool bothOrdinary = t.licenceType == LicenceType.Ordinary && o.licenceType == LicenceType.Ordinary;
            if (
                !bothOrdinary && t.start < o.end && o.start < t.end
                    && (t.territory & o.territory) != 0
                    && (t.fieldOfUse == bytes32(0) || o.fieldOfUse == bytes32(0) || t.fieldOfUse == o.fieldOfUse)
            ) revert LicenceOverlaps(other);
            ++i;
        }
        if (sub) {
            if (list.length >= MAX_SUBLICENCES) revert SublicenceLimitReached(t.parentLicence);
        } else if (list.length >= MAX_LICENCES) {
            revert AssetLicenceLimitReached(t.assetId);
        }
    }

    // Reverts with a reason code, from one place each (keeps the runtime code under the 24 KiB limit); the
    // client maps each code to its text (ledger/artifacts.py).
    function _invalid(AgreementFault reason) private pure {
        revert AgreementInvalid(reason);
    }

    function _outside(bytes32 parent, SublicenceFault reason) private pure {
        revert SublicenceOutsideParent(parent, reason);
    }

    function _assetInvalid(AssetFault reason) private pure {
        revert AssetInvalid(reason);
    }

    function _partyCount() private view returns (uint256) {
        return _parties.partyCount();
    }

    function _partyOf(address account) private view returns (uint256, bool) {
        return _parties.partyOf(account);
    }

    /// @dev One call site for the party registry's `party` (its decoder is large).
    function _party(uint256 partyId) private view returns (IPartyRegistry.Party memory) {
        return _parties.party(partyId);
    }

    function _one(uint256 partyId) private pure returns (uint256[] memory list) {
        list = new uint256[](1);
        list[0] = partyId;
    }

    function _union(uint256[] memory a, uint256[] memory b, uint256 extra) private pure returns (uint256[] memory out) {
        out = new uint256[](a.length + b.length + (extra == 0 ? 0 : 1));
        uint256 n;
        for (uint256 i = 0; i < a.length; ++i) out[n++] = a[i];
        for (uint256 i = 0; i < b.length; ++i) out[n++] = b[i];
        if (extra != 0) {
            bool present;
            for (uint256 i = 0; i < n; ++i) {
                if (out[i] == extra) present = true;
            }
            if (!present) out[n++] = extra;
        }
        assembly {
            mstore(out, n)
        }
    }

    /// @dev Every required party signs exactly once, with an account of it that is active now; emits
    /// AgreementSigned for each (id 0 for asset registrations).
    function _checkSignatures(bytes32 id, bytes32 digest, uint256[] memory required, PartySignature[] calldata sigs) private {
        uint256 signedMask;
        for (uint256 i = 0; i < sigs.length; ++i) {
            signedMask = _checkSignature(id, digest, required, sigs[i], signedMask);
        }
        _checkAllSigned(required, signedMask);
    }

    function _checkSignature(bytes32 id, bytes32 digest, uint256[] memory required, PartySignature calldata sig, uint256 signedMask)
        private
        returns (uint256)
    {
        address signer = sig.signer;
        (uint256 pid, bool active) = _partyOf(signer);
        if (!active) revert AgreementSignerNotActive(signer);
        uint256 slot = type(uint256).max;
        for (uint256 j = 0; j < required.length; ++j) {
            if (required[j] == pid) slot = j;
        }
        if (slot == type(uint256).max) revert AgreementSignerNotAParty(signer, pid);
        if (signedMask & (1 << slot) != 0) revert AgreementSignatureDuplicate(pid);
        if (!SignatureChecker.isValidSignatureNow(signer, digest, sig.signature)) revert AgreementSignatureInvalid(id, signer);
        if (id != bytes32(0)) emit AgreementSigned(id, pid, signer);
        return signedMask | (1 << slot);
    }

    function _checkAllSigned(uint256[] memory required, uint256 signedMask) private pure {
        for (uint256 j = 0; j < required.length; ++j) {
            if (signedMask & (1 << j) == 0) revert AgreementSignatureMissing(required[j]);
        }
    }
}
