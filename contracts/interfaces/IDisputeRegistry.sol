// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title IDisputeRegistry
/// @notice Disputes over IP rights before an arbitration institution. An arbitrator account of an active
/// arbitration institution opens a dispute over an asset, an agreement or an evidence record; while it is
/// open the asset concerned is frozen. The arbitrator closes it with an award whose outcome takes effect on
/// chain in the same transaction.
interface IDisputeRegistry {
    enum SubjectKind {
        None,
        Asset,
        Agreement,
        Evidence
    }

    enum Outcome {
        None,
        Dismissed,
        AgreementVoided,
        TitleRestored
    }

    enum DisputeStatus {
        None,
        Open,
        Closed
    }

    /// @param subjectId The asset id (as bytes32), the agreement id, or the content hash.
    /// @param assetId The asset frozen by the dispute (0 for an evidence record).
    struct Dispute {
        SubjectKind kind;
        DisputeStatus status;
        Outcome outcome;
        uint64 openedAt;
        uint64 closedAt;
        uint256 institution;
        uint256 claimant;
        uint256 respondent;
        uint256 assetId;
        bytes32 subjectId;
        bytes32 claimHash;
        bytes32 awardHash;
    }

    /// @notice What an arbitrator signs to open a dispute through a relayer.
    struct OpenRequest {
        SubjectKind kind;
        bytes32 subjectId;
        uint256 claimant;
        uint256 respondent;
        bytes32 claimHash;
    }

    /// @notice What an arbitrator signs to close a dispute with an award through a relayer.
    struct CloseRequest {
        bytes32 disputeId;
        Outcome outcome;
        bytes32 awardHash;
        uint256[] owners;
        uint16[] shares;
    }

    event DisputeOpened(
        bytes32 indexed disputeId,
        SubjectKind indexed kind,
        bytes32 indexed subjectId,
        uint256 institution,
        uint256 claimant,
        uint256 respondent,
        bytes32 claimHash,
        address arbitrator
    );
    event DisputeClosed(bytes32 indexed disputeId, Outcome indexed outcome, bytes32 awardHash, address arbitrator);

    /// @notice Opens a dispute; the caller is an account of an active arbitration institution that is neither
    /// claimant nor respondent. Freezes the asset concerned.
    /// @return disputeId keccak256 of the subject, the parties, the claim hash and the dispute count.
    function openDispute(SubjectKind kind, bytes32 subjectId, uint256 claimant, uint256 respondent, bytes32 claimHash)
        external
        returns (bytes32 disputeId);

    /// @notice Closes a dispute with an award, by an account of the institution that opened it. The outcome
    /// takes effect here: `AgreementVoided` voids the disputed agreement (a voided transfer that made the
    /// current title gives title back to its assignors with their shares; `owners` and `shares` are ignored);
    /// `TitleRestored` gives the asset to `owners` with `shares` (summing to 10,000). The freeze this dispute
    /// put on the asset is lifted in the same transaction (and only then: no one can lift it otherwise).
    function closeDispute(
        bytes32 disputeId,
        Outcome outcome,
        bytes32 awardHash,
        uint256[] calldata owners,
        uint16[] calldata shares
    ) external;

    /// @notice `openDispute` signed (EIP-712 `OpenDispute`) by an arbitrator account and relayed by anyone;
    /// each signature opens one dispute.
    function openDisputeBySignature(OpenRequest calldata request, address arbitrator, uint64 deadline, bytes calldata signature)
        external
        returns (bytes32 disputeId);

    /// @notice `closeDispute` signed (EIP-712 `CloseDispute`) by an arbitrator account and relayed by anyone.
    function closeDisputeBySignature(CloseRequest calldata request, address arbitrator, uint64 deadline, bytes calldata signature)
        external;

    function dispute(bytes32 disputeId) external view returns (Dispute memory);

    function disputeCount() external view returns (uint256);
}
