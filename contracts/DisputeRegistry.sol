// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {IDisputeRegistry} from "./interfaces/IDisputeRegistry.sol";
import {IIPAssetRegistry} from "./interfaces/IIPAssetRegistry.sol";
import {IPartyRegistry} from "./interfaces/IPartyRegistry.sol";
import {
    AccountNotAParty, PartyNotActive, SignatureDeadlineTooFar, SignatureExpired, SignatureInvalid
} from "./common/Errors.sol";

/// @title DisputeRegistry
/// @notice Disputes, freezes and awards. Opening a dispute (which freezes the asset) and closing it with an
/// award are acts of the arbitration institution, not of one of its accounts: distinct accounts of it, at
/// least its own threshold and never fewer than two, sign each (one ERC-1271 wallet account suffices alone,
/// its own m-of-n standing for the institution's), so no single arbitrator key freezes or rewrites title. The asset registry was deployed bound to this contract's address:
/// this contract alone freezes, unfreezes, voids and restores title, so an award takes effect on the chain of
/// title in the same transaction that records it, and nothing else (no administrator, no operator) can.
/// A freeze is lifted only by closing the dispute that put it.
contract DisputeRegistry is IDisputeRegistry, EIP712 {
    /// @notice OpenDispute(uint8 kind,bytes32 subjectId,uint256 claimant,uint256 respondent,bytes32 claimHash,uint256 institution,uint64 deadline)
    bytes32 public constant OPEN_DISPUTE_TYPEHASH = keccak256(
        "OpenDispute(uint8 kind,bytes32 subjectId,uint256 claimant,uint256 respondent,bytes32 claimHash,uint256 institution,uint64 deadline)"
    );
    /// @notice CloseDispute(bytes32 disputeId,uint8 outcome,bytes32 awardHash,uint256[] owners,uint16[] shares,uint256 institution,uint64 deadline)
    bytes32 public constant CLOSE_DISPUTE_TYPEHASH = keccak256(
        "CloseDispute(bytes32 disputeId,uint8 outcome,bytes32 awardHash,uint256[] owners,uint16[] shares,uint256 institution,uint64 deadline)"
    );

    error DisputeNotArbitrator(address account, uint256 partyId);
    error DisputeArbitratorIsParty(uint256 institution);
    error DisputeSubjectInvalid(string reason);
    error DisputePartiesInvalid();
    error DisputeUnknown(bytes32 disputeId);
    error DisputeAlreadyClosed(bytes32 disputeId);
    error DisputeWrongInstitution(bytes32 disputeId, uint256 institution);
    error DisputeOutcomeInvalid(string reason);
    error DisputeSignatureUsed(bytes32 digest);
    error DisputeRegistryNotBound(address assets, address bound);
    error DisputeSignerDuplicate(address signer);
    error DisputeSignaturesTooFew(uint256 institution, uint256 given, uint256 required);
    error DisputeSignaturesTooMany(uint256 given);

    /// @notice The furthest a signature's deadline may lie after the block that submits it.
    uint64 public constant MAX_SIGNING_WINDOW = 365 days;
    /// @notice Fewest distinct EOA accounts of an institution that act for it (its own threshold if higher);
    /// one contract-wallet account (ERC-1271, e.g. a Safe with its own m-of-n) suffices alone.
    uint256 public constant MIN_ARBITRATORS = 2;
    /// @notice Most signatures one act carries (a party has at most 16 accounts).
    uint256 public constant MAX_SIGNATURES = 16;

    IPartyRegistry private immutable _parties;
    IIPAssetRegistry private immutable _assets;
    uint256 private _count;
    mapping(bytes32 disputeId => Dispute record) private _disputes;
    mapping(bytes32 digest => bool used) private _usedOpenSignatures;

    /// @dev Refuses to exist unless `assets` names this contract as its dispute registry: a deployment whose
    /// precomputed address missed fails here rather than leaving awards with no effect.
    constructor(IPartyRegistry parties, IIPAssetRegistry assets) EIP712("QianhaiIPLedger.Disputes", "1") {
        address bound = assets.disputeRegistry();
        if (bound != address(this)) revert DisputeRegistryNotBound(address(assets), bound);
        _parties = parties;
        _assets = assets;
    }

    /// @inheritdoc IDisputeRegistry
    function openDisputeBySignature(
        OpenRequest calldata r,
        uint256 institution,
        uint64 deadline,
        ArbitratorSignature[] calldata signatures
    ) external returns (bytes32) {
        _checkDeadline(deadline);
        bytes32 digest = _hashTypedDataV4(
            keccak256(abi.encode(OPEN_DISPUTE_TYPEHASH, r.kind, r.subjectId, r.claimant, r.respondent, r.claimHash, institution, deadline))
        );
        if (_usedOpenSignatures[digest]) revert DisputeSignatureUsed(digest);
        address[] memory signers = _checkInstitution(institution, digest, signatures);
        _usedOpenSignatures[digest] = true;
        return _open(r, institution, signers);
    }

    /// @inheritdoc IDisputeRegistry
    function closeDisputeBySignature(CloseRequest calldata r, uint256 institution, uint64 deadline, ArbitratorSignature[] calldata signatures)
        external
    {
        _checkDeadline(deadline);
        bytes32 digest = _hashTypedDataV4(
            keccak256(
                abi.encode(
                    CLOSE_DISPUTE_TYPEHASH,
                    r.disputeId,
                    r.outcome,
                    r.awardHash,
                    keccak256(abi.encodePacked(r.owners)),
                    keccak256(abi.encodePacked(r.shares)),
                    institution,
                    deadline
                )
            )
        );
        address[] memory signers = _checkInstitution(institution, digest, signatures);
        _close(r, institution, signers);
    }

    /// @notice The EIP-712 domain separator of this contract.
    function domainSeparator() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    /// @notice The asset registry whose dispute effects this contract alone may call.
    function assetRegistry() external view returns (IIPAssetRegistry) {
        return _assets;
    }

    function _checkDeadline(uint64 deadline) private view {
        if (block.timestamp > deadline) revert SignatureExpired(deadline, uint64(block.timestamp));
        if (deadline > block.timestamp + MAX_SIGNING_WINDOW) {
            revert SignatureDeadlineTooFar(deadline, uint64(block.timestamp + MAX_SIGNING_WINDOW));
        }
    }

    function _open(OpenRequest memory r, uint256 institution, address[] memory signers) private returns (bytes32 disputeId) {
        uint256 count = _parties.partyCount();
        if (r.claimant == 0 || r.respondent == 0 || r.claimant > count || r.respondent > count || r.claimant == r.respondent) {
            revert DisputePartiesInvalid();
        }
        if (institution == r.claimant || institution == r.respondent) revert DisputeArbitratorIsParty(institution);
        uint256 assetId = _subjectAsset(r.kind, r.subjectId);
        disputeId = keccak256(abi.encode(r.kind, r.subjectId, r.claimant, r.respondent, r.claimHash, ++_count));
        Dispute storage d = _disputes[disputeId];
        d.kind = r.kind;
        d.status = DisputeStatus.Open;
        d.openedAt = uint64(block.timestamp);
        d.institution = institution;
        d.claimant = r.claimant;
        d.respondent = r.respondent;
        d.assetId = assetId;
        d.subjectId = r.subjectId;
        d.claimHash = r.claimHash;
        if (assetId != 0) _assets.freezeAsset(assetId, disputeId);
        emit DisputeOpened(disputeId, r.kind, r.subjectId, institution, r.claimant, r.respondent, r.claimHash, signers);
    }

    function _close(CloseRequest memory r, uint256 institution, address[] memory signers) private {
        Dispute storage d = _disputes[r.disputeId];
        if (d.status == DisputeStatus.None) revert DisputeUnknown(r.disputeId);
        if (d.status == DisputeStatus.Closed) revert DisputeAlreadyClosed(r.disputeId);
        if (institution != d.institution) revert DisputeWrongInstitution(r.disputeId, institution);
        if (r.outcome == Outcome.None) revert DisputeOutcomeInvalid("outcome");
        if (r.awardHash == bytes32(0)) revert DisputeOutcomeInvalid("award hash");
        d.status = DisputeStatus.Closed;
        d.outcome = r.outcome;
        d.awardHash = r.awardHash;
        d.closedAt = uint64(block.timestamp);
        // The asset was frozen by this dispute alone and only this call lifts that freeze, so the unfreeze
        // cannot fail; voiding an already voided agreement is a no-op: an award is always recorded.
        if (d.assetId != 0) _assets.unfreezeAsset(d.assetId, r.disputeId);
        if (r.outcome == Outcome.AgreementVoided) {
            if (d.kind != SubjectKind.Agreement) revert DisputeOutcomeInvalid("only an agreement is voided");
            _assets.voidAgreement(d.subjectId, r.disputeId);
        } else if (r.outcome == Outcome.TitleRestored) {
            if (d.assetId == 0) revert DisputeOutcomeInvalid("no asset to restore");
            _assets.restoreTitle(d.assetId, r.owners, r.shares, r.disputeId);
        }
        emit DisputeClosed(r.disputeId, r.outcome, r.awardHash, institution, signers);
    }

    /// @inheritdoc IDisputeRegistry
    function dispute(bytes32 disputeId) external view returns (Dispute memory) {
        return _disputes[disputeId];
    }

    /// @inheritdoc IDisputeRegistry
    function disputeCount() external view returns (uint256) {
        return _count;
    }

    /// @dev The act is the institution's: `institution` is an active arbitration institution and the signers
    /// are distinct accounts of it, each signature valid, at least max(its threshold, MIN_ARBITRATORS) of them
    /// unless one is a contract wallet (whose own m-of-n stands for the institution's). Returns the signers.
    function _checkInstitution(uint256 institution, bytes32 digest, ArbitratorSignature[] calldata sigs)
        private
        view
        returns (address[] memory signers)
    {
        IPartyRegistry.Party memory p = _parties.party(institution); // reverts PartyUnknown
        if (p.kind != IPartyRegistry.PartyKind.ArbitrationInstitution) revert DisputeNotArbitrator(address(0), institution);
        if (p.suspended) revert PartyNotActive(institution);
        uint256 required = p.threshold > MIN_ARBITRATORS ? p.threshold : MIN_ARBITRATORS;
        if (sigs.length > MAX_SIGNATURES) revert DisputeSignaturesTooMany(sigs.length);
        signers = new address[](sigs.length);
        bool wallet = false;
        for (uint256 i = 0; i < sigs.length; ++i) {
            address signer = sigs[i].signer;
            for (uint256 j = 0; j < i; ++j) {
                if (signers[j] == signer) revert DisputeSignerDuplicate(signer);
            }
            (uint256 pid, bool active) = _parties.partyOf(signer);
            if (pid == 0) revert AccountNotAParty(signer);
            if (pid != institution) revert DisputeNotArbitrator(signer, pid);
            if (!active) revert PartyNotActive(pid);
            if (!SignatureChecker.isValidSignatureNowCalldata(signer, digest, sigs[i].signature)) revert SignatureInvalid(signer);
            if (signer.code.length != 0) wallet = true;
            signers[i] = signer;
        }
        if (!wallet && sigs.length < required) revert DisputeSignaturesTooFew(institution, sigs.length, required);
    }

    function _subjectAsset(SubjectKind kind, bytes32 subjectId) private view returns (uint256) {
        if (kind == SubjectKind.Asset) {
            uint256 assetId = uint256(subjectId);
            _assets.asset(assetId); // reverts AssetUnknown
            return assetId;
        }
        if (kind == SubjectKind.Agreement) {
            IIPAssetRegistry.Agreement memory g = _assets.agreement(subjectId);
            if (g.status == IIPAssetRegistry.AgreementStatus.None || g.status == IIPAssetRegistry.AgreementStatus.Withdrawn) {
                revert DisputeSubjectInvalid("no such agreement");
            }
            return g.assetId;
        }
        if (kind == SubjectKind.Evidence) return 0;
        revert DisputeSubjectInvalid("kind");
    }
}
