// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title IPartyRegistry
/// @notice The parties admitted to the ledger by the zone operator: firms, universities, arbitration
/// institutions, financial institutions and service agencies, each with one or more accounts
/// (externally owned or ERC-1271 contract wallets). Only accounts of active parties register evidence
/// or sign agreements.
interface IPartyRegistry {
    /// @notice What a party is. Values are stable and part of the ABI.
    enum PartyKind {
        None,
        Firm,
        University,
        ArbitrationInstitution,
        FinancialInstitution,
        ServiceAgency
    }

    /// @notice Where a party is constituted.
    enum Jurisdiction {
        None,
        Mainland,
        HKSAR,
        Other
    }

    /// @notice Which kind of registration number identifies the party.
    enum IdentifierScheme {
        None,
        USCC,
        HKBRN,
        Other
    }

    /// @notice What the operator states about a party when admitting it.
    /// @param identifier The registration number (USCC validated off chain by its check character); unique here.
    struct PartyProfile {
        PartyKind kind;
        Jurisdiction jurisdiction;
        IdentifierScheme scheme;
        string identifier;
        string nameZh;
        string nameEn;
    }

    /// @notice A party as stored. Names are kept for display; the identifier is unique across parties.
    struct Party {
        PartyKind kind;
        Jurisdiction jurisdiction;
        IdentifierScheme scheme;
        bool suspended;
        uint8 accountCount;
        uint32 admittedAt;
        string identifier;
        string nameZh;
        string nameEn;
    }

    /// @notice Emitted when the operator admits a party.
    event PartyAdmitted(uint256 indexed partyId, bytes32 indexed identifierCommitment, PartyProfile profile);
    /// @notice Emitted when an account is attached to a party.
    event PartyAccountAdded(uint256 indexed partyId, address indexed account);
    /// @notice Emitted when an account is detached from a party.
    event PartyAccountRemoved(uint256 indexed partyId, address indexed account);
    /// @notice Emitted when the operator suspends a party.
    event PartySuspended(uint256 indexed partyId, bytes32 reasonHash);
    /// @notice Emitted when the operator reinstates a suspended party.
    event PartyReinstated(uint256 indexed partyId);

    /// @notice Admits a new party with its first accounts. Registrar role only.
    /// @param profile Kind, jurisdiction, identifier and names; the identifier must not be held by another party.
    /// @param accounts One to `MAX_ACCOUNTS` accounts, none already attached to a party.
    /// @return partyId The new party's id, counting from 1.
    function admitParty(PartyProfile calldata profile, address[] calldata accounts) external returns (uint256 partyId);

    /// @notice Attaches an account to a party. Registrar role only.
    function addAccount(uint256 partyId, address account) external;

    /// @notice Detaches an account from its party. Registrar role only. The last account cannot be removed.
    /// The account keeps its nonce for delegated signatures (`IEvidenceRegistry.nonces`).
    function removeAccount(address account) external;

    /// @notice Replaces one account of a party by another in one step (key rotation). Registrar role only.
    /// Both accounts keep their nonces for delegated signatures (`IEvidenceRegistry.nonces`).
    function rotateAccount(address oldAccount, address newAccount) external;

    /// @notice Suspends a party: its accounts can no longer register or sign. Registrar role only.
    /// @param reasonHash Hash of the suspension decision, for the record.
    function suspendParty(uint256 partyId, bytes32 reasonHash) external;

    /// @notice Lifts a suspension. Registrar role only.
    function reinstateParty(uint256 partyId) external;

    /// @notice The party with the given id; reverts `PartyUnknown` if none.
    function party(uint256 partyId) external view returns (Party memory);

    /// @notice The accounts currently attached to a party.
    function partyAccounts(uint256 partyId) external view returns (address[] memory);

    /// @notice The party an account belongs to (0 if none) and whether that party is active.
    function partyOf(address account) external view returns (uint256 partyId, bool active);

    /// @notice The party holding an identifier (0 if none).
    function partyByIdentifier(IdentifierScheme scheme, string calldata identifier) external view returns (uint256);

    /// @notice How many parties have been admitted.
    function partyCount() external view returns (uint256);
}
