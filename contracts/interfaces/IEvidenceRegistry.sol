// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title IEvidenceRegistry
/// @notice Records of IP-creation evidence. A record says that a party held a document with a given content hash
/// no later than the block that recorded it. Documents and their hashes never go on chain: only a *binding* of the
/// hash to the registering party, ALG(domain || partyId || contentHash), or for a private registration
/// ALG(domain || partyId || salt || contentHash) (docs/certificate.md). A record is kept under its binding and its
/// party, so the same content may be recorded by several parties, and a copy of a pending registration by another
/// party neither blocks nor displaces the original.
/// Large volumes are anchored as Merkle batch roots by the operator's aggregator, one root per batch.
interface IEvidenceRegistry {
    /// @notice Hash algorithm of a content hash. Values are stable and part of the ABI.
    enum HashAlgorithm {
        None,
        SHA256,
        SM3
    }

    /// @notice A registration request.
    /// @param binding The binding of the document's content hash to the registrant's party (public or private).
    /// @param algorithm The algorithm of the content hash and of the binding.
    /// @param metadataCommitment SHA-256 of the canonical metadata JSON (title, kind, creators, ...), or 0.
    /// @param supersedes An earlier record of the same party that this one is a new version of, or 0.
    struct EvidenceRequest {
        bytes32 binding;
        HashAlgorithm algorithm;
        bytes32 metadataCommitment;
        bytes32 supersedes;
    }

    /// @notice A registration request signed (EIP-712) by a party account and relayed by anyone.
    /// @param request The registration.
    /// @param registrant The signing party account (EOA or ERC-1271 contract wallet).
    /// @param nonce The registrant's current nonce (`nonces(registrant)`); bumping it cancels the signature.
    /// @param deadline Last block timestamp at which the signature is accepted.
    /// @param signature 65-byte ECDSA signature, or whatever the registrant's ERC-1271 wallet accepts.
    struct DelegatedEvidenceRequest {
        EvidenceRequest request;
        address registrant;
        uint256 nonce;
        uint64 deadline;
        bytes signature;
    }

    /// @notice A stored record, packed in one storage slot.
    struct Record {
        address registrant;
        uint24 partyId;
        HashAlgorithm algorithm;
        uint32 timestamp;
        uint32 blockNumber;
    }

    /// @notice An anchored batch root, packed in one storage slot.
    struct Batch {
        address anchorer;
        uint32 size;
        uint32 timestamp;
        uint32 blockNumber;
    }

    /// @notice Emitted when a party records a binding.
    event EvidenceRegistered(
        bytes32 indexed binding,
        uint256 indexed partyId,
        address indexed registrant,
        HashAlgorithm algorithm,
        bytes32 metadataCommitment,
        bytes32 supersedes
    );

    /// @notice Emitted when the aggregator anchors a batch root.
    event BatchAnchored(bytes32 indexed root, address indexed anchorer, uint32 size);

    /// @notice Emitted when an account bumps its nonce, cancelling its outstanding signatures.
    event NonceBumped(address indexed account, uint256 newNonce);

    /// @notice Registers evidence from a party account (the caller). The stored record is reported by
    /// `EvidenceRegistered` and read with `record(binding, partyId)`; nothing is returned, to save gas. Refused when
    /// the caller's party already recorded this binding, or when `supersedes` is not a binding the party recorded.
    function register(EvidenceRequest calldata request) external;

    /// @notice Registers evidence signed by a party account; anyone may relay it and pay the gas. Checks, in this
    /// order: the deadline, the registrant's nonce, the signature (ERC-1271 when the registrant has code, ECDSA
    /// otherwise, as OpenZeppelin `SignatureChecker`), then the same rules as `register`. Nothing is returned.
    function registerBySignature(DelegatedEvidenceRequest calldata delegated) external;

    /// @notice Anchors the Merkle root of a batch (RFC 9162 tree over SHA-256). Aggregator role only.
    /// @param root The batch root; anchoring the same root twice is refused.
    /// @param size The number of leaves in the batch tree.
    function anchorBatch(bytes32 root, uint32 size) external;

    /// @notice Increments the caller's nonce, invalidating every signature made with the old one. Any account may
    /// bump its nonce, whether or not it belongs to a party.
    function bumpNonce() external returns (uint256 newNonce);

    /// @notice The record of `binding` by party `partyId`; `timestamp == 0` when none.
    function record(bytes32 binding, uint256 partyId) external view returns (Record memory);

    /// @notice Many records at once, by `recordKey` (`timestamp == 0` where none): a lookup by content hash reads
    /// the public binding of every party in a few calls.
    function records(bytes32[] calldata keys) external view returns (Record[] memory found);

    /// @notice The storage key of a record: keccak256(abi.encode(binding, partyId)).
    function recordKey(bytes32 binding, uint256 partyId) external pure returns (bytes32 key);

    /// @notice The anchored batch with this root; `timestamp == 0` when none.
    function batch(bytes32 root) external view returns (Batch memory);

    /// @notice Whether `leafHash` is leaf `index` of an anchored batch tree of `root`, by the RFC 9162 audit path.
    /// @return anchoredAt Block timestamp at which the root was anchored, or 0 when the proof or root fails.
    function batchInclusion(bytes32 root, bytes32 leafHash, uint256 index, bytes32[] calldata proof)
        external
        view
        returns (uint32 anchoredAt);

    /// @notice Recomputes an RFC 9162 root from a leaf hash, its index, the tree size and the audit path.
    /// Inner nodes are SHA-256(0x01 || left || right).
    function computeRoot(bytes32 leafHash, uint256 index, uint256 size, bytes32[] calldata proof)
        external
        pure
        returns (bytes32 root, bool valid);

    /// @notice The EIP-712 digest a party account signs for a batch submission; the aggregator uses it as
    /// the leaf data of the batch tree. Checks nothing.
    function batchSubmissionDigest(bytes32 submissionRoot, uint32 count, HashAlgorithm algorithm, address registrant, uint64 deadline)
        external
        view
        returns (bytes32);

    /// @notice Checks a party account's signature (ECDSA or ERC-1271) over a batch submission, and returns the
    /// account's party and whether it is active now.
    function verifyBatchSubmission(
        bytes32 submissionRoot,
        uint32 count,
        HashAlgorithm algorithm,
        address registrant,
        uint64 deadline,
        bytes calldata signature
    ) external view returns (uint256 partyId, bool active);

    /// @notice The account's current nonce for delegated signatures. It starts at 0, changes only by `bumpNonce`
    /// (a registration by signature consumes none: a party records a binding once) and belongs to the account,
    /// not to its place in a party: suspension, reinstatement, removal, rotation (of either account) and
    /// re-admission keep it, so a signature cancelled once stays cancelled.
    function nonces(address account) external view returns (uint256);

    /// @notice The EIP-712 domain separator of this contract on this chain.
    function domainSeparator() external view returns (bytes32);
}
