// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {IEvidenceRegistry} from "./interfaces/IEvidenceRegistry.sol";
import {PartyRegistry} from "./PartyRegistry.sol";
import {NonceMismatch, SignatureExpired, SignatureInvalid} from "./common/Errors.sol";

/// @title EvidenceRegistry
/// @notice Evidence records and Merkle batch anchors, with the party registry built in so that a registration
/// checks its registrant in the same contract (one storage read). A record is kept under its binding *and* its
/// party: a copy of a pending registration sent by another party lands under that party's key, so it neither
/// blocks nor displaces the original, and its binding (which commits to the original party's id) proves nothing
/// for the copier.
contract EvidenceRegistry is IEvidenceRegistry, PartyRegistry, EIP712 {
    /// @notice Role of the aggregator accounts that anchor batch roots.
    bytes32 public constant ANCHOR_ROLE = keccak256("ANCHOR_ROLE");

    /// @notice EIP-712 type of a delegated registration:
    /// Evidence(bytes32 binding,uint8 algorithm,bytes32 metadataCommitment,bytes32 supersedes,address registrant,uint256 nonce,uint64 deadline)
    bytes32 public constant EVIDENCE_TYPEHASH = keccak256(
        "Evidence(bytes32 binding,uint8 algorithm,bytes32 metadataCommitment,bytes32 supersedes,address registrant,uint256 nonce,uint64 deadline)"
    );

    /// @notice EIP-712 type of a batch submission signed by a party account:
    /// BatchSubmission(bytes32 root,uint32 count,uint8 algorithm,address registrant,uint64 deadline)
    bytes32 public constant BATCH_SUBMISSION_TYPEHASH =
        keccak256("BatchSubmission(bytes32 root,uint32 count,uint8 algorithm,address registrant,uint64 deadline)");

    /// @notice Longest audit path accepted (trees of up to 2**64 leaves).
    uint256 public constant MAX_PROOF_LENGTH = 64;

    error EvidenceAlreadyRegistered(bytes32 binding, uint256 partyId, uint32 timestamp);
    error EvidenceHashZero();
    error EvidenceAlgorithmInvalid(uint8 algorithm);
    error EvidenceSupersedesUnknown(bytes32 supersedes);
    error BatchRootZero();
    error BatchSizeZero();
    error BatchAlreadyAnchored(bytes32 root, uint32 timestamp);

    /// @dev Keyed by `recordKey(binding, partyId)`.
    mapping(bytes32 key => Record record) private _records;
    mapping(bytes32 root => Batch batch) private _batches;

    /// @param governance Default admin and `GOVERNANCE_ROLE` (a timelock in production; see PartyRegistry).
    /// @param registrar `REGISTRAR_ROLE`: admits ordinary parties, suspends provisionally.
    /// @param anchorer `ANCHOR_ROLE`: the relayer that anchors batch roots; it holds no other power.
    /// @param recoveryDelay_ Seconds a key recovery waits for the party's veto.
    /// @param suspensionPeriod_ Seconds within which governance must confirm a registrar's suspension.
    constructor(
        address governance,
        address registrar,
        address anchorer,
        uint256 recoveryDelay_,
        uint256 suspensionPeriod_
    ) PartyRegistry(governance, registrar, recoveryDelay_, suspensionPeriod_) EIP712("QianhaiIPLedger.Evidence", "1") {
        _grantRole(ANCHOR_ROLE, anchorer);
    }

    /// @inheritdoc IEvidenceRegistry
    function register(EvidenceRequest calldata request) external {
        (uint24 partyId, bool suspended, ) = _accountState(msg.sender);
        _register(request, msg.sender, partyId, suspended);
    }

    /// @inheritdoc IEvidenceRegistry
    function registerBySignature(DelegatedEvidenceRequest calldata delegated) external {
        if (block.timestamp > delegated.deadline) revert SignatureExpired(delegated.deadline, uint64(block.timestamp));
        address registrant = delegated.registrant;
        // One read of the registrant's slot gives its nonce and its party; the signature check in between is a
        // static call, so what was read cannot change before it is used.
        (uint24 partyId, bool suspended, uint64 current) = _accountState(registrant);
        if (delegated.nonce != current) revert NonceMismatch(registrant, current, delegated.nonce);
        bytes32 digest = _hashTypedDataV4(_evidenceStructHash(delegated));
        if (!SignatureChecker.isValidSignatureNowCalldata(registrant, digest, delegated.signature)) {
            revert SignatureInvalid(registrant);
        }
        // Replay needs no nonce increment: a party records a binding once, so a replayed signature is refused (an
        // account that has moved to another party records the binding under that party, where it opens for no one).
        _register(delegated.request, registrant, partyId, suspended);
    }

    /// @inheritdoc IEvidenceRegistry
    function anchorBatch(bytes32 root, uint32 size) external onlyRole(ANCHOR_ROLE) {
        if (root == bytes32(0)) revert BatchRootZero();
        if (size == 0) revert BatchSizeZero();
        uint32 anchoredAt = _batches[root].timestamp;
        if (anchoredAt != 0) revert BatchAlreadyAnchored(root, anchoredAt);
        _batches[root] = Batch({
            anchorer: msg.sender,
            size: size,
            timestamp: uint32(block.timestamp),
            blockNumber: uint32(block.number)
        });
        emit BatchAnchored(root, msg.sender, size);
    }

    /// @inheritdoc IEvidenceRegistry
    function bumpNonce() external returns (uint256 newNonce) {
        newNonce = _bumpNonce(msg.sender);
        emit NonceBumped(msg.sender, newNonce);
    }

    /// @inheritdoc IEvidenceRegistry
    function record(bytes32 binding, uint256 partyId) external view returns (Record memory) {
        return _records[recordKey(binding, partyId)];
    }

    /// @inheritdoc IEvidenceRegistry
    function records(bytes32[] calldata keys) external view returns (Record[] memory found) {
        found = new Record[](keys.length);
        for (uint256 i = 0; i < keys.length; ++i) {
            found[i] = _records[keys[i]];
        }
    }

    /// @inheritdoc IEvidenceRegistry
    function recordKey(bytes32 binding, uint256 partyId) public pure returns (bytes32 key) {
        assembly ("memory-safe") {
            mstore(0x00, binding)
            mstore(0x20, partyId)
            key := keccak256(0x00, 0x40)
        }
    }

    /// @inheritdoc IEvidenceRegistry
    function batch(bytes32 root) external view returns (Batch memory) {
        return _batches[root];
    }

    /// @inheritdoc IEvidenceRegistry
    function batchInclusion(bytes32 root, bytes32 leafHash, uint256 index, bytes32[] calldata proof)
        external
        view
        returns (uint32 anchoredAt)
    {
        Batch memory b = _batches[root];
        if (b.timestamp == 0) return 0;
        (bytes32 computed, bool valid) = _computeRoot(leafHash, index, b.size, proof);
        return valid && computed == root ? b.timestamp : 0;
    }

    /// @inheritdoc IEvidenceRegistry
    function computeRoot(bytes32 leafHash, uint256 index, uint256 size, bytes32[] calldata proof)
        external
        pure
        returns (bytes32 root, bool valid)
    {
        return _computeRoot(leafHash, index, size, proof);
    }

    /// @inheritdoc IEvidenceRegistry
    function batchSubmissionDigest(
        bytes32 submissionRoot,
        uint32 count,
        HashAlgorithm algorithm,
        address registrant,
        uint64 deadline
    ) public view returns (bytes32) {
        return _hashTypedDataV4(
            keccak256(abi.encode(BATCH_SUBMISSION_TYPEHASH, submissionRoot, count, algorithm, registrant, deadline))
        );
    }

    /// @inheritdoc IEvidenceRegistry
    function verifyBatchSubmission(
        bytes32 submissionRoot,
        uint32 count,
        HashAlgorithm algorithm,
        address registrant,
        uint64 deadline,
        bytes calldata signature
    ) external view returns (uint256 partyId, bool active) {
        bytes32 digest = batchSubmissionDigest(submissionRoot, count, algorithm, registrant, deadline);
        if (!SignatureChecker.isValidSignatureNow(registrant, digest, signature)) revert SignatureInvalid(registrant);
        return partyOf(registrant);
    }

    /// @inheritdoc IEvidenceRegistry
    function nonces(address account) external view returns (uint256) {
        return _nonceOf(account);
    }

    /// @inheritdoc IEvidenceRegistry
    function domainSeparator() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    /// @dev Account changes and recovery vetoes are signed in this contract's EIP-712 domain.
    function _partyDigest(bytes32 structHash) internal view override returns (bytes32) {
        return _hashTypedDataV4(structHash);
    }

    /// @dev The anchoring relayer is a role holder too: it can never be a party's account.
    function _holdsRole(address account) internal view override returns (bool) {
        return hasRole(ANCHOR_ROLE, account) || super._holdsRole(account);
    }

    /// @dev `partyId` and `suspended` are the registrant's, as read by `_accountState`. Each field of `r` is read
    /// from calldata once (every read of an enum there is a bounds check).
    function _register(EvidenceRequest calldata r, address registrant, uint24 partyId, bool suspended) private {
        bytes32 binding = r.binding;
        HashAlgorithm algorithm = r.algorithm;
        bytes32 supersedes = r.supersedes;
        if (binding == bytes32(0)) revert EvidenceHashZero();
        if (algorithm == HashAlgorithm.None || uint8(algorithm) > uint8(HashAlgorithm.SM3)) {
            revert EvidenceAlgorithmInvalid(uint8(algorithm));
        }
        _requireActive(registrant, partyId, suspended);
        // The key names the party: another party's record of the same binding lives elsewhere and blocks nothing.
        Record storage slot = _records[recordKey(binding, partyId)];
        if (slot.timestamp != 0) revert EvidenceAlreadyRegistered(binding, partyId, slot.timestamp);
        // Looked up under this party's own key: another party's binding is unknown here.
        if (supersedes != bytes32(0) && _records[recordKey(supersedes, partyId)].timestamp == 0) {
            revert EvidenceSupersedesUnknown(supersedes);
        }
        // One SSTORE of the whole packed slot (the layout of `Record`, first field in the low bytes) rather than the
        // compiler's read-modify-write per field.
        uint256 packed = uint256(uint160(registrant)) | (uint256(partyId) << 160) | (uint256(uint8(algorithm)) << 184)
            | (uint256(uint32(block.timestamp)) << 192) | (uint256(uint32(block.number)) << 224);
        assembly ("memory-safe") {
            sstore(slot.slot, packed)
        }
        emit EvidenceRegistered(binding, partyId, registrant, algorithm, r.metadataCommitment, supersedes);
    }

    /// @dev keccak256(abi.encode(EVIDENCE_TYPEHASH, binding, algorithm, metadataCommitment, supersedes,
    /// registrant, nonce, deadline)) without re-encoding: those seven fields are the first seven head words of
    /// `delegated` in calldata, in this order, so they are hashed as they stand. A registration that succeeds has
    /// read each narrow field through Solidity (deadline and registrant before the hash, algorithm in `_register`),
    /// and such a read reverts unless the word is the clean encoding of its type; so the words hashed are the
    /// EIP-712 encoding of the values recorded.
    function _evidenceStructHash(DelegatedEvidenceRequest calldata delegated) private pure returns (bytes32 structHash) {
        bytes32 typeHash = EVIDENCE_TYPEHASH;
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            mstore(ptr, typeHash)
            calldatacopy(add(ptr, 0x20), delegated, 0xe0)
            structHash := keccak256(ptr, 0x100)
        }
    }

    /// @dev RFC 9162 section 2.1.3.2, with SHA-256(0x01 || left || right) inner nodes.
    function _computeRoot(bytes32 leafHash, uint256 index, uint256 size, bytes32[] calldata proof)
        private
        pure
        returns (bytes32, bool)
    {
        if (index >= size || proof.length > MAX_PROOF_LENGTH) return (bytes32(0), false);
        uint256 fn = index;
        uint256 sn = size - 1;
        bytes32 r = leafHash;
        for (uint256 i = 0; i < proof.length; ++i) {
            if (sn == 0) return (bytes32(0), false);
            if (fn & 1 == 1 || fn == sn) {
                r = sha256(abi.encodePacked(bytes1(0x01), proof[i], r));
                while (fn & 1 == 0 && fn != 0) {
                    fn >>= 1;
                    sn >>= 1;
                }
            } else {
                r = sha256(abi.encodePacked(bytes1(0x01), r, proof[i]));
            }
            fn >>= 1;
            sn >>= 1;
        }
        return (r, sn == 0);
    }
}
