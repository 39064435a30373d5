// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title IDisputeRegistry
/// @notice Disputes over IP rights before an arbitration institution. An active arbitration institution
/// opens a dispute over an asset, an agreement or an evidence record; while it is open the asset concerned is
/// frozen. The institution closes it with an award whose outcome takes effect on chain in the same
/// transaction. Each act is signed by distinct accounts of the institution, at least max(its threshold, 2),
/// or by one ERC-1271 wallet account of it; no single arbitrator key acts alone.
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

    /// @notice A signature by one account of the institution (ECDSA, or whatever its ERC-1271 wallet accepts).
    struct ArbitratorSignature {
        address signer;
        bytes signature;
    }

    /// @notice What the institution's arbitrators sign to open a dispute through a relayer.
    struct OpenRequest {
        SubjectKind kind;
        bytes32 subjectId;
        uint256 claimant;
        uint256 respondent;
        bytes32 claimHash;
    }

    /// @notice What the institution's arbitrators sign to close a dispute with an award through a relayer.
    struct CloseRequest {
        bytes32 disputeId;
        Outcome outcome;
        bytes32 awardHash;
        uint256[] owners;
        uint16[] shares;
    }

    /// @param arbitrators The institution's accounts that signed.
    event DisputeOpened(
        bytes32 indexed disputeId,
        SubjectKind indexed kind,
        bytes32 indexed subjectId,
        uint256 institution,
        uint256 claimant,
        uint256 respondent,
        bytes32 claimHash,
        address[] arbitrators
    );
    event DisputeClosed(bytes32 indexed disputeId, Outcome indexed outcome, bytes32 awardHash, uint256 institution, address[] arbitrators);

    /// @notice Opens a dispute as `institution`, an active arbitration institution that is neither claimant
    /// nor respondent, signed (EIP-712 `OpenDispute`, naming the institution) by distinct accounts of it, at
    /// least max(its threshold, 2), or by one ERC-1271 wallet account of it; relayed by anyone. Freezes the
    /// asset concerned. Each set of signatures opens one dispute.
    /// @return disputeId keccak256 of the subject, the parties, the claim hash and the dispute count.
    function openDisputeBySignature(
        OpenRequest calldata request,
        uint256 institution,
        uint64 deadline,
        ArbitratorSignature[] calldata signatures
    ) external returns (bytes32 disputeId);

    /// @notice Closes a dispute with an award, as the institution that opened it, signed (EIP-712
    /// `CloseDispute`) like an opening. The outcome takes effect here: `AgreementVoided` voids the disputed
    /// agreement (a voided transfer that made the current title gives title back to its assignors with their
    /// shares; `owners` and `shares` are ignored); `TitleRestored` gives the asset to `owners` with `shares`
    /// (summing to 10,000). The freeze this dispute put on the asset is lifted in the same transaction (and
    /// only then: no one can lift it otherwise).
    function closeDisputeBySignature(
        CloseRequest calldata request,
        uint256 institution,
        uint64 deadline,
        ArbitratorSignature[] calldata signatures
    ) external;

    function dispute(bytes32 disputeId) external view returns (Dispute memory);

    function disputeCount() external view returns (uint256);
}
