// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessControlDefaultAdminRules} from "@openzeppelin/contracts/access/extensions/AccessControlDefaultAdminRules.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {IIPAssetRegistry} from "./interfaces/IIPAssetRegistry.sol";
import {IPartyRegistry} from "./interfaces/IPartyRegistry.sol";
import {SignatureExpired} from "./common/Errors.sol";

/// @title IPAssetRegistry
/// @notice Assets, their chain of title, and the four agreement types, with the rules of title enforced here:
/// only current owners grant and every co-owner signs; exclusive and sole licences exclude every overlapping
/// licence (territory, field and term); a pledged asset moves or is exclusively licensed only with the
/// pledgee's signature; a suspended party signs nothing; a frozen (disputed) asset changes nothing; shares
/// always sum to 10,000 basis points.
contract IPAssetRegistry is IIPAssetRegistry, AccessControlDefaultAdminRules, EIP712 {
    /// @notice Role of the dispute registry (or arbitrator accounts) that freeze assets under dispute.
    bytes32 public constant DISPUTE_ROLE = keccak256("DISPUTE_ROLE");

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

    uint16 public constant TOTAL_SHARES = 10_000;
    uint256 public constant MAX_OWNERS = 8;
    uint256 public constant MAX_LICENCES = 32;

    error AssetNumberTaken(bytes32 numberHash, uint256 assetId);
    error AssetUnknown(uint256 assetId);
    error AssetInvalid(string reason);
    error AssetIsFrozen(uint256 assetId);
    error AssetNotFrozen(uint256 assetId);
    error AssetLicenceLimitReached(uint256 assetId);
    error SharesInvalid(uint256 total);
    error AgreementAlreadyExecuted(bytes32 agreementId);
    error AgreementUnknown(bytes32 agreementId);
    error AgreementInvalid(string reason);
    error AgreementNotEffective(bytes32 agreementId);
    error AgreementSignerNotActive(address signer);
    error AgreementSignerNotAParty(address signer, uint256 partyId);
    error AgreementSignatureDuplicate(uint256 partyId);
    error AgreementSignatureInvalid(bytes32 agreementId, address signer);
    error AgreementSignatureMissing(uint256 partyId);
    error LicenceOverlaps(bytes32 existing);
    error SublicenceOutsideParent(bytes32 parent, string reason);
    error AssetPledged(bytes32 pledge);

    /// @dev An agreement in two packed slots plus the licence scope; licences and pledges have one grantee.
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
        uint256 territory;
        bytes32 fieldOfUse;
        bytes32 parentLicence;
        uint256[] grantors;
    }

    struct AssetData {
        AssetJurisdiction jurisdiction;
        AssetKind kind;
        uint16 openDisputes;
        bytes32 pledge;
    }

    IPartyRegistry private immutable _parties;
    uint256 private _assetCount;
    mapping(uint256 assetId => AssetData data) private _assets;
    mapping(uint256 assetId => uint256[] owners) private _owners;
    mapping(uint256 assetId => uint16[] shares) private _shares;
    mapping(bytes32 numberHash => uint256 assetId) private _assetByNumber;
    mapping(bytes32 agreementId => StoredAgreement agreement) private _agreements;
    mapping(uint256 assetId => bytes32[] licenceIds) private _licences;

    constructor(address operator, IPartyRegistry parties) AccessControlDefaultAdminRules(0, operator) EIP712("QianhaiIPLedger.Assets", "1") {
        _parties = parties;
        _grantRole(DISPUTE_ROLE, operator);
    }

    // --- assets ---------------------------------------------------------------------------------

    /// @inheritdoc IIPAssetRegistry
    function registerAsset(AssetRegistration calldata r, PartySignature[] calldata signatures) external returns (uint256 assetId) {
        if (r.jurisdiction == AssetJurisdiction.None || r.kind == AssetKind.None) revert AssetInvalid("jurisdiction and kind");
        if (r.numberHash == bytes32(0)) revert AssetInvalid("number");
        uint256 taken = _assetByNumber[r.numberHash];
        if (taken != 0) revert AssetNumberTaken(r.numberHash, taken);
        if (block.timestamp > r.deadline) revert SignatureExpired(r.deadline, uint64(block.timestamp));
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
        if (assetId > type(uint64).max) revert AssetInvalid("registry full");
        _assets[assetId] = AssetData({jurisdiction: r.jurisdiction, kind: r.kind, openDisputes: 0, pledge: bytes32(0)});
        _owners[assetId] = r.owners;
        _shares[assetId] = r.shares;
        _assetByNumber[r.numberHash] = assetId;
        emit AssetRegistered(assetId, r.numberHash, r.jurisdiction, r.kind, r.owners, r.shares, r.detailsHash);
    }

    // --- agreements -----------------------------------------------------------------------------

    /// @inheritdoc IIPAssetRegistry
    function execute(Terms calldata t, PartySignature[] calldata signatures) external returns (bytes32 id) {
        id = hashTerms(t);
        if (_agreements[id].status != AgreementStatus.None) revert AgreementAlreadyExecuted(id);
        if (block.timestamp > t.deadline) revert SignatureExpired(t.deadline, uint64(block.timestamp));
        AssetData storage a = _requireAsset(t.assetId);
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
            // A transfer is complete once in effect: its parties live in the events (TitleTransferred names
            // the new owners, the previous title the old), so nothing else is stored.
            _owners[t.assetId] = t.grantees;
            _shares[t.assetId] = t.shares;
            emit TitleTransferred(t.assetId, id, t.grantees, t.shares);
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
                if (t.parentLicence != bytes32(0)) g.parentLicence = t.parentLicence;
                _licences[t.assetId].push(id);
            } else {
                a.pledge = id;
            }
        }
        emit AgreementExecuted(id, t.assetId, t.kind, t.documentHash, t.detailsHash);
    }

    /// @inheritdoc IIPAssetRegistry
    function terminate(bytes32 id, uint64 deadline, PartySignature[] calldata signatures) external {
        StoredAgreement storage g = _requireEffective(id);
        if (g.kind != AgreementKind.Licence && g.kind != AgreementKind.Pledge) {
            revert AgreementInvalid("only licences and pledges are terminated; title moves back by a new assignment");
        }
        if (_assets[g.assetId].openDisputes != 0) revert AssetIsFrozen(g.assetId);
        if (block.timestamp > deadline) revert SignatureExpired(deadline, uint64(block.timestamp));
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
        if (g.kind != AgreementKind.Pledge) revert AgreementInvalid("not a pledge");
        if (block.timestamp > deadline) revert SignatureExpired(deadline, uint64(block.timestamp));
        uint256[] memory required = _one(g.grantee);
        PartySignature[] memory one = new PartySignature[](1);
        one[0] = pledgee;
        _checkSignaturesMemory(id, _hashTypedDataV4(keccak256(abi.encode(RELEASE_TYPEHASH, id, deadline))), required, one);
        g.status = AgreementStatus.Released;
        g.closedAt = uint64(block.timestamp);
        if (_assets[g.assetId].pledge == id) _assets[g.assetId].pledge = bytes32(0);
        emit PledgeReleased(id, g.assetId);
    }

    /// @inheritdoc IIPAssetRegistry
    function freezeAsset(uint256 assetId, bytes32 disputeId) external onlyRole(DISPUTE_ROLE) {
        _requireAsset(assetId).openDisputes += 1;
        emit AssetFrozen(assetId, disputeId);
    }

    /// @inheritdoc IIPAssetRegistry
    function unfreezeAsset(uint256 assetId, bytes32 disputeId) external onlyRole(DISPUTE_ROLE) {
        AssetData storage a = _requireAsset(assetId);
        if (a.openDisputes == 0) revert AssetNotFrozen(assetId);
        a.openDisputes -= 1;
        emit AssetUnfrozen(assetId, disputeId);
    }

    /// @inheritdoc IIPAssetRegistry
    function voidAgreement(bytes32 id, bytes32 disputeId) external onlyRole(DISPUTE_ROLE) {
        StoredAgreement storage g = _agreements[id];
        if (g.status == AgreementStatus.None) revert AgreementUnknown(id);
        if (g.status == AgreementStatus.Voided) revert AgreementNotEffective(id);
        g.status = AgreementStatus.Voided;
        g.closedAt = uint64(block.timestamp);
        if (g.kind == AgreementKind.Pledge && _assets[g.assetId].pledge == id) _assets[g.assetId].pledge = bytes32(0);
        emit AgreementVoided(id, g.assetId, disputeId);
    }

    /// @inheritdoc IIPAssetRegistry
    function restoreTitle(uint256 assetId, uint256[] calldata owners, uint16[] calldata shares, bytes32 disputeId)
        external
        onlyRole(DISPUTE_ROLE)
    {
        _requireAsset(assetId);
        _checkShares(owners, shares);
        _owners[assetId] = owners;
        _shares[assetId] = shares;
        emit TitleRestored(assetId, disputeId, owners, shares);
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

    /// @notice How many assets have been registered.
    function assetCount() external view returns (uint256) {
        return _assetCount;
    }

    /// @inheritdoc IIPAssetRegistry
    function agreement(bytes32 id) external view returns (Agreement memory a) {
        StoredAgreement storage g = _agreements[id];
        a.kind = g.kind;
        a.status = g.status;
        a.licenceType = g.licenceType;
        a.sublicensable = g.sublicensable;
        a.start = g.start;
        a.end = g.end;
        a.effectiveAt = g.effectiveAt;
        a.closedAt = g.closedAt;
        a.assetId = g.assetId;
        a.territory = g.territory;
        a.fieldOfUse = g.fieldOfUse;
        a.parentLicence = g.parentLicence;
        a.grantors = g.grantors;
        a.grantees = g.grantee == 0 ? new uint256[](0) : _one(g.grantee);
    }

    /// @inheritdoc IIPAssetRegistry
    function licencesInForce(uint256 assetId, uint64 time) external view returns (bytes32[] memory ids) {
        bytes32[] storage all = _licences[assetId];
        ids = new bytes32[](all.length);
        uint256 n;
        for (uint256 i = 0; i < all.length; ++i) {
            StoredAgreement storage g = _agreements[all[i]];
            if (g.status == AgreementStatus.Effective && g.start <= time && time < g.end) ids[n++] = all[i];
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
    function termsDigest(Terms calldata t) external view returns (bytes32) {
        return _hashTypedDataV4(hashTerms(t));
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
        if (g.status == AgreementStatus.None) revert AgreementUnknown(id);
        if (g.status != AgreementStatus.Effective) revert AgreementNotEffective(id);
    }

    function _pledgeInForce(AssetData storage a) private view returns (bytes32) {
        bytes32 id = a.pledge;
        if (id == bytes32(0)) return id;
        StoredAgreement storage g = _agreements[id];
        return g.end == 0 || block.timestamp < g.end ? id : bytes32(0);
    }

    function _checkShares(uint256[] calldata owners, uint16[] calldata shares) private view {
        if (owners.length == 0 || owners.length > MAX_OWNERS || owners.length != shares.length) {
            revert AssetInvalid("owners and shares");
        }
        uint256 total;
        uint256 count = _parties.partyCount();
        for (uint256 i = 0; i < owners.length; ++i) {
            if (owners[i] == 0 || owners[i] > count) revert AssetInvalid("unknown owner");
            if (shares[i] == 0) revert SharesInvalid(0);
            total += shares[i];
            for (uint256 j = 0; j < i; ++j) {
                if (owners[j] == owners[i]) revert AssetInvalid("owner listed twice");
            }
        }
        if (total != TOTAL_SHARES) revert SharesInvalid(total);
    }

    function _checkGrantees(Terms calldata t) private view {
        if (t.kind == AgreementKind.Assignment || t.kind == AgreementKind.EquityContribution) {
            _checkShares(t.grantees, t.shares);
            if (t.kind == AgreementKind.EquityContribution) {
                if (t.grantees.length != 1) revert AgreementInvalid("an equity contribution goes to one company");
                if (_parties.party(t.grantees[0]).scheme != IPartyRegistry.IdentifierScheme.USCC) {
                    revert AgreementInvalid("the company must be identified by a USCC");
                }
            }
            return;
        }
        if (t.grantees.length != 1 || t.shares.length != 0) revert AgreementInvalid("one grantee, no shares");
        if (t.grantees[0] == 0 || t.grantees[0] > _parties.partyCount()) revert AgreementInvalid("unknown grantee");
        if (t.end <= t.start) revert AgreementInvalid("end must be after start");
        if (t.end <= block.timestamp) revert AgreementInvalid("the term has ended");
        if (t.kind == AgreementKind.Licence) {
            if (t.licenceType == LicenceType.None) revert AgreementInvalid("licence type");
            if (t.territory == 0) revert AgreementInvalid("territory");
        } else if (t.kind == AgreementKind.Pledge) {
            if (_parties.party(t.grantees[0]).kind != IPartyRegistry.PartyKind.FinancialInstitution) {
                revert AgreementInvalid("the pledgee must be a financial institution");
            }
        } else {
            revert AgreementInvalid("kind");
        }
    }

    /// @dev The asset's owners, or for a sublicence the parent licence's licensee.
    function _grantors(Terms calldata t) private view returns (uint256[] memory grantors) {
        if (t.kind == AgreementKind.Licence && t.parentLicence != bytes32(0)) {
            StoredAgreement storage p = _agreements[t.parentLicence];
            if (p.kind != AgreementKind.Licence || p.assetId != t.assetId) revert SublicenceOutsideParent(t.parentLicence, "no such licence of this asset");
            if (p.status != AgreementStatus.Effective || p.end <= block.timestamp) revert SublicenceOutsideParent(t.parentLicence, "parent not in force");
            if (!p.sublicensable) revert SublicenceOutsideParent(t.parentLicence, "parent not sublicensable");
            if (p.parentLicence != bytes32(0)) revert SublicenceOutsideParent(t.parentLicence, "no sublicence of a sublicence");
            if (t.territory & ~p.territory != 0) revert SublicenceOutsideParent(t.parentLicence, "territory");
            if (p.fieldOfUse != bytes32(0) && t.fieldOfUse != p.fieldOfUse) revert SublicenceOutsideParent(t.parentLicence, "field of use");
            if (t.start < p.start || t.end > p.end) revert SublicenceOutsideParent(t.parentLicence, "term");
            grantors = _one(p.grantee);
        } else {
            if (t.kind != AgreementKind.Licence && t.parentLicence != bytes32(0)) revert AgreementInvalid("parent licence");
            grantors = _owners[t.assetId];
        }
        for (uint256 i = 0; i < grantors.length; ++i) {
            for (uint256 j = 0; j < t.grantees.length; ++j) {
                if (grantors[i] == t.grantees[j]) revert AgreementInvalid("a grantor cannot also be a grantee");
            }
        }
    }

    /// @dev Exclusive and sole licences exclude every licence overlapping in term, territory and field; two
    /// ordinary licences never exclude each other. A sublicence is not checked against its own parent. Ended
    /// licences are pruned from the list here, which keeps it bounded by MAX_LICENCES.
    function _checkLicence(Terms calldata t) private {
        bytes32[] storage list = _licences[t.assetId];
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
                !bothOrdinary && other != t.parentLicence && t.start < o.end && o.start < t.end
                    && (t.territory & o.territory) != 0
                    && (t.fieldOfUse == bytes32(0) || o.fieldOfUse == bytes32(0) || t.fieldOfUse == o.fieldOfUse)
            ) revert LicenceOverlaps(other);
            ++i;
        }
        if (list.length >= MAX_LICENCES) revert AssetLicenceLimitReached(t.assetId);
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

    function _checkSignatures(bytes32 id, bytes32 digest, uint256[] memory required, PartySignature[] calldata sigs) private {
        PartySignature[] memory copy = sigs;
        _checkSignaturesMemory(id, digest, required, copy);
    }

    /// @dev Every required party signs exactly once, with an account of it that is active now; emits
    /// AgreementSigned for each (id 0 for asset registrations).
    function _checkSignaturesMemory(bytes32 id, bytes32 digest, uint256[] memory required, PartySignature[] memory sigs) private {
        uint256 signedMask;
        for (uint256 i = 0; i < sigs.length; ++i) {
            address signer = sigs[i].signer;
            (uint256 pid, bool active) = _parties.partyOf(signer);
            if (!active) revert AgreementSignerNotActive(signer);
            uint256 slot = type(uint256).max;
            for (uint256 j = 0; j < required.length; ++j) {
                if (required[j] == pid) slot = j;
            }
            if (slot == type(uint256).max) revert AgreementSignerNotAParty(signer, pid);
            if (signedMask & (1 << slot) != 0) revert AgreementSignatureDuplicate(pid);
            if (!SignatureChecker.isValidSignatureNow(signer, digest, sigs[i].signature)) {
                revert AgreementSignatureInvalid(id, signer);
            }
            signedMask |= 1 << slot;
            if (id != bytes32(0)) emit AgreementSigned(id, pid, signer);
        }
        for (uint256 j = 0; j < required.length; ++j) {
            if (signedMask & (1 << j) == 0) revert AgreementSignatureMissing(required[j]);
        }
    }
}
