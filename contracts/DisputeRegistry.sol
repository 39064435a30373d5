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
/// @notice Disputes, freezes and awards. The asset registry was deployed bound to this contract's address:
/// this contract alone freezes, unfreezes, voids and restores title, so an award takes effect on the chain of
/// title in the same transaction that records it, and nothing else (no administrator, no operator) can.
/// A freeze is lifted only by closing the dispute that put it.
contract DisputeRegistry is IDisputeRegistry, EIP712 {
    /// @notice OpenDispute(uint8 kind,bytes32 subjectId,uint256 claimant,uint256 respondent,bytes32 claimHash,address arbitrator,uint64 deadline)
    bytes32 public constant OPEN_DISPUTE_TYPEHASH = keccak256(
        "OpenDispute(uint8 kind,bytes32 subjectId,uint256 claimant,uint256 respondent,bytes32 claimHash,address arbitrator,uint64 deadline)"
    );
    /// @notice CloseDispute(bytes32 disputeId,uint8 outcome,bytes32 awardHash,uint256[] owners,uint16[] shares,address arbitrator,uint64 deadline)
    bytes32 public constant CLOSE_DISPUTE_TYPEHASH = keccak256(
        "CloseDispute(bytes32 disputeId,uint8 outcome,bytes32 awardHash,uint256[] owners,uint16[] shares,address arbitrator,uint64 deadline)"
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

    /// @notice The furthest a signature's deadline may lie after the block that submits it.
    uint64 public constant MAX_SIGNING_WINDOW = 365 days;

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
    function openDispute(SubjectKind kind, bytes32 subjectId, uint256 claimant, uint256 respondent, bytes32 claimHash)
        external
        returns (bytes32)
    {
        return _open(OpenRequest(kind, subjectId, claimant, respondent, claimHash), msg.sender);
    }

    /// @inheritdoc IDisputeRegistry
    function openDisputeBySignature(OpenRequest calldata r, address arbitrator, uint64 deadline, bytes calldata signature)
        external
        returns (bytes32)
    {
        _checkDeadline(deadline);
        bytes32 digest = _hashTypedDataV4(
            keccak256(abi.encode(OPEN_DISPUTE_TYPEHASH, r.kind, r.subjectId, r.claimant, r.respondent, r.claimHash, arbitrator, deadline))
        );
        if (_usedOpenSignatures[digest]) revert DisputeSignatureUsed(digest);
        if (!SignatureChecker.isValidSignatureNow(arbitrator, digest, signature)) revert SignatureInvalid(arbitrator);
        _usedOpenSignatures[digest] = true;
        return _open(r, arbitrator);
    }

    /// @inheritdoc IDisputeRegistry
    function closeDispute(bytes32 disputeId, Outcome outcome, bytes32 awardHash, uint256[] calldata owners, uint16[] calldata shares)
        external
    {
        _close(CloseRequest(disputeId, outcome, awardHash, owners, shares), msg.sender);
    }

    /// @inheritdoc IDisputeRegistry
    function closeDisputeBySignature(CloseRequest calldata r, address arbitrator, uint64 deadline, bytes calldata signature) external {
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
                    arbitrator,
                    deadline
                )
            )
        );
        if (!SignatureChecker.isValidSignatureNow(arbitrator, digest, signature)) revert SignatureInvalid(arbitrator);
        _close(r, arbitrator);
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

    function _open(OpenRequest memory r, address arbitrator) private returns (bytes32 disputeId) {
        uint256 institution = _arbitrator(arbitrator);
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
        emit DisputeOpened(disputeId, r.kind, r.subjectId, institution, r.claimant, r.respondent, r.claimHash, arbitrator);
    }

    function _close(CloseRequest memory r, address arbitrator) private {
        Dispute storage d = _disputes[r.disputeId];
        if (d.status == DisputeStatus.None) revert DisputeUnknown(r.disputeId);
        if (d.status == DisputeStatus.Closed) revert DisputeAlreadyClosed(r.disputeId);
        uint256 institution = _arbitrator(arbitrator);
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
        emit DisputeClosed(r.disputeId, r.outcome, r.awardHash, arbitrator);
    }

    /// @inheritdoc IDisputeRegistry
    function dispute(bytes32 disputeId) external view returns (Dispute memory) {
        return _disputes[disputeId];
    }

    /// @inheritdoc IDisputeRegistry
    function disputeCount() external view returns (uint256) {
        return _count;
    }

    /// @dev The arbitration institution of an account of an active party of that kind; reverts otherwise.
    function _arbitrator(address account) private view returns (uint256 partyId) {
        bool active;
        (partyId, active) = _parties.partyOf(account);
        if (partyId == 0) revert AccountNotAParty(account);
        if (!active) revert PartyNotActive(partyId);
        if (_parties.party(partyId).kind != IPartyRegistry.PartyKind.ArbitrationInstitution) {
            revert DisputeNotArbitrator(account, partyId);
        }
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
