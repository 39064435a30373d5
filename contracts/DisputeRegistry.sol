// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IDisputeRegistry} from "./interfaces/IDisputeRegistry.sol";
import {IIPAssetRegistry} from "./interfaces/IIPAssetRegistry.sol";
import {IPartyRegistry} from "./interfaces/IPartyRegistry.sol";
import {AccountNotAParty, PartyNotActive} from "./common/Errors.sol";

/// @title DisputeRegistry
/// @notice Disputes, freezes and awards. Holds the asset registry's DISPUTE_ROLE, so an award takes effect on
/// the chain of title in the same transaction that records it.
contract DisputeRegistry is IDisputeRegistry {
    error DisputeNotArbitrator(address account, uint256 partyId);
    error DisputeArbitratorIsParty(uint256 institution);
    error DisputeSubjectInvalid(string reason);
    error DisputePartiesInvalid();
    error DisputeUnknown(bytes32 disputeId);
    error DisputeAlreadyClosed(bytes32 disputeId);
    error DisputeWrongInstitution(bytes32 disputeId, uint256 institution);
    error DisputeOutcomeInvalid(string reason);

    IPartyRegistry private immutable _parties;
    IIPAssetRegistry private immutable _assets;
    uint256 private _count;
    mapping(bytes32 disputeId => Dispute record) private _disputes;

    constructor(IPartyRegistry parties, IIPAssetRegistry assets) {
        _parties = parties;
        _assets = assets;
    }

    /// @inheritdoc IDisputeRegistry
    function openDispute(SubjectKind kind, bytes32 subjectId, uint256 claimant, uint256 respondent, bytes32 claimHash)
        external
        returns (bytes32 disputeId)
    {
        uint256 institution = _arbitrator(msg.sender);
        uint256 count = _parties.partyCount();
        if (claimant == 0 || respondent == 0 || claimant > count || respondent > count || claimant == respondent) {
            revert DisputePartiesInvalid();
        }
        if (institution == claimant || institution == respondent) revert DisputeArbitratorIsParty(institution);
        uint256 assetId = _subjectAsset(kind, subjectId);
        disputeId = keccak256(abi.encode(kind, subjectId, claimant, respondent, claimHash, ++_count));
        _disputes[disputeId] = Dispute({
            kind: kind,
            status: DisputeStatus.Open,
            outcome: Outcome.None,
            openedAt: uint64(block.timestamp),
            closedAt: 0,
            institution: institution,
            claimant: claimant,
            respondent: respondent,
            assetId: assetId,
            subjectId: subjectId,
            claimHash: claimHash,
            awardHash: bytes32(0)
        });
        if (assetId != 0) _assets.freezeAsset(assetId, disputeId);
        emit DisputeOpened(disputeId, kind, subjectId, institution, claimant, respondent, claimHash, msg.sender);
    }

    /// @inheritdoc IDisputeRegistry
    function closeDispute(bytes32 disputeId, Outcome outcome, bytes32 awardHash, uint256[] calldata owners, uint16[] calldata shares)
        external
    {
        Dispute storage d = _disputes[disputeId];
        if (d.status == DisputeStatus.None) revert DisputeUnknown(disputeId);
        if (d.status == DisputeStatus.Closed) revert DisputeAlreadyClosed(disputeId);
        uint256 institution = _arbitrator(msg.sender);
        if (institution != d.institution) revert DisputeWrongInstitution(disputeId, institution);
        if (outcome == Outcome.None) revert DisputeOutcomeInvalid("outcome");
        if (awardHash == bytes32(0)) revert DisputeOutcomeInvalid("award hash");
        d.status = DisputeStatus.Closed;
        d.outcome = outcome;
        d.awardHash = awardHash;
        d.closedAt = uint64(block.timestamp);
        if (d.assetId != 0) _assets.unfreezeAsset(d.assetId, disputeId);
        if (outcome == Outcome.AgreementVoided) {
            if (d.kind != SubjectKind.Agreement) revert DisputeOutcomeInvalid("only an agreement is voided");
            _assets.voidAgreement(d.subjectId, disputeId);
        } else if (outcome == Outcome.TitleRestored) {
            if (d.assetId == 0) revert DisputeOutcomeInvalid("no asset to restore");
            _assets.restoreTitle(d.assetId, owners, shares, disputeId);
        }
        emit DisputeClosed(disputeId, outcome, awardHash, msg.sender);
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
            if (g.status == IIPAssetRegistry.AgreementStatus.None) revert DisputeSubjectInvalid("no such agreement");
            return g.assetId;
        }
        if (kind == SubjectKind.Evidence) return 0;
        revert DisputeSubjectInvalid("kind");
    }
}
