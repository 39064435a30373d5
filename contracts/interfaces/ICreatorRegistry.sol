// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title ICreatorRegistry
/// @notice Creators' own signatures on registrations made by someone else: an inventor, designer or author who is
/// an admitted party (a natural person, or an organisation) affirms that they created the document a firm or
/// university registered. An endorsement names the record (its binding and registrant party), the creator's party
/// and the role; it is made by an account of the creator's party (sent by it, or signed with EIP-712 and relayed by
/// anyone), so neither the registrant nor the service can make one for the creator. Endorsements are permanent
/// and made once per record and creator.
interface ICreatorRegistry {
    /// @notice What the creator did. Values are stable and part of the ABI (`None` is never stored).
    enum CreatorRole {
        None,
        Inventor,
        Designer,
        Author,
        Contributor
    }

    /// @notice A stored endorsement, packed in one storage slot.
    struct Endorsement {
        address account;
        CreatorRole role;
        uint32 timestamp;
        uint32 blockNumber;
    }

    /// @notice Emitted when a creator's party endorses a record.
    event CreatorEndorsed(
        bytes32 indexed binding,
        uint256 indexed registrantPartyId,
        uint256 indexed creatorPartyId,
        address account,
        CreatorRole role
    );

    /// @notice The role is `None`.
    error CreatorRoleInvalid();
    /// @notice The record `(binding, registrantPartyId)` is not in the evidence registry (batched items are not
    /// records and cannot be endorsed).
    error EndorsedRecordUnknown(bytes32 binding, uint256 registrantPartyId);
    /// @notice A party does not endorse its own record: its registration already is its act.
    error CreatorIsRegistrant(uint256 partyId);
    /// @notice The creator's party already endorsed this record.
    error AlreadyEndorsed(bytes32 binding, uint256 registrantPartyId, uint256 creatorPartyId);

    /// @notice Endorses the record of `binding` by party `registrantPartyId` as the caller's party, in `role`.
    /// Refused unless the caller is an account of an active party other than the registrant, and the record exists.
    function endorse(bytes32 binding, uint256 registrantPartyId, CreatorRole role) external;

    /// @notice The same, signed (EIP-712 `CreatorEndorsement`, this contract's domain) by `creator`, an account of
    /// the creator's party (ECDSA, or ERC-1271 for a contract wallet), and relayed by anyone. `nonce` is the
    /// creator's current nonce in the evidence registry (`nonces(creator)`): bumping it there cancels the
    /// signature. Checks the deadline, the nonce and the signature, then the rules of `endorse`.
    function endorseBySignature(
        bytes32 binding,
        uint256 registrantPartyId,
        CreatorRole role,
        address creator,
        uint256 nonce,
        uint64 deadline,
        bytes calldata signature
    ) external;

    /// @notice The endorsement of the record by party `creatorPartyId`; `timestamp == 0` when none.
    function endorsement(bytes32 binding, uint256 registrantPartyId, uint256 creatorPartyId)
        external
        view
        returns (Endorsement memory);

    /// @notice The evidence (and party) registry whose records and parties this registry reads.
    function evidenceRegistry() external view returns (address);

    /// @notice The EIP-712 domain separator of this contract on this chain.
    function domainSeparator() external view returns (bytes32);
}
