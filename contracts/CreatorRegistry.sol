// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {ICreatorRegistry} from "./interfaces/ICreatorRegistry.sol";
import {IEvidenceRegistry} from "./interfaces/IEvidenceRegistry.sol";
import {IPartyRegistry} from "./interfaces/IPartyRegistry.sol";
import {
    AccountNotAParty,
    NonceMismatch,
    PartyNotActive,
    SignatureDeadlineTooFar,
    SignatureExpired,
    SignatureInvalid
} from "./common/Errors.sol";

/// @title CreatorRegistry
/// @notice Creators' endorsements of records in the evidence registry (see ICreatorRegistry). It has no
/// administrator and no role: every endorsement is the act of an account of the creator's party, checked against
/// the party registry at the time it is made.
contract CreatorRegistry is ICreatorRegistry, EIP712 {
    /// @notice EIP-712 type of a relayed endorsement:
    /// CreatorEndorsement(bytes32 binding,uint256 registrantPartyId,uint8 role,address creator,uint256 nonce,uint64 deadline)
    bytes32 public constant ENDORSEMENT_TYPEHASH = keccak256(
        "CreatorEndorsement(bytes32 binding,uint256 registrantPartyId,uint8 role,address creator,uint256 nonce,uint64 deadline)"
    );

    /// @notice Longest a signature may stay usable: deadlines further ahead are refused.
    uint256 public constant MAX_SIGNING_WINDOW = 365 days;

    IEvidenceRegistry private immutable _evidence;

    mapping(bytes32 key => Endorsement endorsed) private _endorsements;

    /// @param evidence The deployment's evidence (and party) registry.
    constructor(address evidence) EIP712("QianhaiIPLedger.Creators", "1") {
        _evidence = IEvidenceRegistry(evidence);
    }

    /// @inheritdoc ICreatorRegistry
    function endorse(bytes32 binding, uint256 registrantPartyId, CreatorRole role) external {
        _endorse(binding, registrantPartyId, role, msg.sender);
    }

    /// @inheritdoc ICreatorRegistry
    function endorseBySignature(
        bytes32 binding,
        uint256 registrantPartyId,
        CreatorRole role,
        address creator,
        uint256 nonce,
        uint64 deadline,
        bytes calldata signature
    ) external {
        if (block.timestamp > deadline) revert SignatureExpired(deadline, uint64(block.timestamp));
        uint256 latest = block.timestamp + MAX_SIGNING_WINDOW;
        if (deadline > latest) revert SignatureDeadlineTooFar(deadline, uint64(latest));
        uint256 current = _evidence.nonces(creator);
        if (nonce != current) revert NonceMismatch(creator, current, nonce);
        bytes32 digest = _hashTypedDataV4(
            keccak256(abi.encode(ENDORSEMENT_TYPEHASH, binding, registrantPartyId, role, creator, nonce, deadline))
        );
        if (!SignatureChecker.isValidSignatureNowCalldata(creator, digest, signature)) revert SignatureInvalid(creator);
        // Replay needs no nonce increment: a party endorses a record once.
        _endorse(binding, registrantPartyId, role, creator);
    }

    /// @inheritdoc ICreatorRegistry
    function endorsement(bytes32 binding, uint256 registrantPartyId, uint256 creatorPartyId)
        external
        view
        returns (Endorsement memory)
    {
        return _endorsements[_key(binding, registrantPartyId, creatorPartyId)];
    }

    /// @inheritdoc ICreatorRegistry
    function evidenceRegistry() external view returns (address) {
        return address(_evidence);
    }

    /// @inheritdoc ICreatorRegistry
    function domainSeparator() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    function _endorse(bytes32 binding, uint256 registrantPartyId, CreatorRole role, address account) private {
        if (role == CreatorRole.None) revert CreatorRoleInvalid();
        (uint256 creatorPartyId, bool active) = IPartyRegistry(address(_evidence)).partyOf(account);
        if (creatorPartyId == 0) revert AccountNotAParty(account);
        if (!active) revert PartyNotActive(creatorPartyId);
        if (creatorPartyId == registrantPartyId) revert CreatorIsRegistrant(creatorPartyId);
        if (_evidence.record(binding, registrantPartyId).timestamp == 0) {
            revert EndorsedRecordUnknown(binding, registrantPartyId);
        }
        bytes32 key = _key(binding, registrantPartyId, creatorPartyId);
        if (_endorsements[key].timestamp != 0) revert AlreadyEndorsed(binding, registrantPartyId, creatorPartyId);
        _endorsements[key] = Endorsement({
            account: account,
            role: role,
            timestamp: uint32(block.timestamp),
            blockNumber: uint32(block.number)
        });
        emit CreatorEndorsed(binding, registrantPartyId, creatorPartyId, account, role);
    }

    function _key(bytes32 binding, uint256 registrantPartyId, uint256 creatorPartyId) private pure returns (bytes32) {
        return keccak256(abi.encode(binding, registrantPartyId, creatorPartyId));
    }
}
