// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title IPartyRegistry
/// @notice The parties admitted to the ledger: firms, universities, arbitration institutions, financial
/// institutions, service agencies and asset verifiers, each with one or more accounts (externally owned or
/// ERC-1271 contract wallets). Only accounts of active parties register evidence or sign agreements.
///
/// Separation of powers (docs/security.md): the registrar admits firms, universities and service agencies and
/// suspends provisionally; governance (a role a timelock can hold) admits and re-kinds the kinds that carry
/// power, confirms suspensions and recovers lost keys after a public delay; a party alone changes its own
/// accounts, by the EIP-712 signature of its accounts (m-of-n, a contract wallet counting as one), with a nonce
/// and a bounded deadline. No role adds, rotates or removes a party's account.
interface IPartyRegistry {
    /// @notice What a party is. Values are stable and part of the ABI. Arbitration institutions, financial
    /// institutions and asset verifiers carry power over other parties' rights and are admitted by governance.
    /// A party's kind is fixed at admission: no function changes it (re-kinding is a new admission).
    /// An individual (a natural person) is admitted by the registrar; on chain it is only a salted commitment to
    /// its identity document (scheme `PersonCommitment`) and its accounts: no name, no plaintext identifier
    /// (docs/privacy.md).
    enum PartyKind {
        None,
        Firm,
        University,
        ArbitrationInstitution,
        FinancialInstitution,
        ServiceAgency,
        AssetVerifier,
        Individual
    }

    /// @notice Where a party is constituted.
    enum Jurisdiction {
        None,
        Mainland,
        HKSAR,
        Other
    }

    /// @notice Which kind of registration number identifies the party. `PersonCommitment` is an individual's
    /// salted commitment to its identity document, the only scheme an individual may use and one no other kind
    /// may use (docs/privacy.md gives its exact bytes).
    enum IdentifierScheme {
        None,
        USCC,
        HKBRN,
        Other,
        PersonCommitment
    }

    /// @notice What a party's own account change does.
    enum AccountAction {
        None,
        Add,
        Remove,
        Rotate,
        SetThreshold
    }

    /// @notice The state of a party's suspension. A registrar's suspension is provisional: it lapses unless
    /// governance confirms it within `suspensionConfirmationPeriod()`; a governance suspension is confirmed.
    enum SuspensionState {
        None,
        Provisional,
        Confirmed
    }

    /// @notice What the admitting role states about a party.
    /// @param identifier The registration number in its canonical form (USCC: 18 characters of the GB 32100
    /// alphabet with a valid check character; HK BRN: 8 digits; other: printable ASCII without lower-case
    /// letters, surrounding or doubled spaces; person commitment: "0x" and 64 lower-case hex digits). Unique
    /// here by its commitment.
    /// @param nameZh Chinese name; at least one name for an organisation, both empty for an individual.
    struct PartyProfile {
        PartyKind kind;
        Jurisdiction jurisdiction;
        IdentifierScheme scheme;
        string identifier;
        string nameZh;
        string nameEn;
    }

    /// @notice A party as stored. `suspended` is read as in force now (a provisional suspension that lapsed
    /// reads false). `threshold` accounts must sign a change of the party's accounts; `accountNonce` is the
    /// nonce the next change must carry.
    struct Party {
        PartyKind kind;
        Jurisdiction jurisdiction;
        IdentifierScheme scheme;
        bool suspended;
        uint8 accountCount;
        uint8 threshold;
        uint32 admittedAt;
        uint64 accountNonce;
        SuspensionState suspension;
        uint32 suspendedAt;
        string identifier;
        string nameZh;
        string nameEn;
    }

    /// @notice A party's own change of its accounts, signed by `threshold` of its accounts (EIP-712
    /// `AccountChange`, the evidence registry's domain).
    /// @param account The account added (Add), removed (Remove) or rotated out (Rotate); zero for SetThreshold.
    /// @param newAccount The account rotated in (Rotate); zero otherwise.
    /// @param threshold The party's threshold after the change, 1 … its account count after the change.
    /// @param nonce The party's `accountNonce`; each change consumes it.
    /// @param deadline Last second the signatures are valid; at most `MAX_SIGNATURE_WINDOW` ahead.
    struct AccountChange {
        uint256 partyId;
        AccountAction action;
        address account;
        address newAccount;
        uint8 threshold;
        uint64 nonce;
        uint64 deadline;
    }

    /// @notice One account's signature (65-byte ECDSA, or any bytes an ERC-1271 wallet accepts).
    struct AccountSignature {
        address signer;
        bytes signature;
    }

    /// @notice Emitted when a party is admitted.
    event PartyAdmitted(uint256 indexed partyId, bytes32 indexed identifierCommitment, PartyProfile profile);
    /// @notice Emitted when an account is attached to a party.
    event PartyAccountAdded(uint256 indexed partyId, address indexed account);
    /// @notice Emitted when an account is detached from a party.
    event PartyAccountRemoved(uint256 indexed partyId, address indexed account);
    /// @notice Emitted when a party's own signed account change takes effect (after its add/remove events).
    event PartyAccountsChanged(uint256 indexed partyId, AccountAction action, uint64 nonce, uint8 threshold);
    /// @notice Emitted when a party is suspended (provisionally by the registrar, or confirmed by governance).
    event PartySuspended(uint256 indexed partyId, bytes32 reasonHash);
    /// @notice Emitted when governance confirms a suspension (or suspends directly).
    event PartySuspensionConfirmed(uint256 indexed partyId);
    /// @notice Emitted when a suspension is lifted.
    event PartyReinstated(uint256 indexed partyId);
    /// @notice Emitted when governance proposes to replace a party's accounts (a lost key).
    event RecoveryProposed(uint256 indexed partyId, address indexed newAccount, uint64 executableAt);
    /// @notice Emitted when an account of the party vetoes a pending recovery.
    event RecoveryVetoed(uint256 indexed partyId, address indexed account);
    /// @notice Emitted when governance withdraws a pending recovery.
    event RecoveryCancelled(uint256 indexed partyId);
    /// @notice Emitted when a recovery takes effect: every account of the party is replaced by `newAccount`.
    event RecoveryExecuted(uint256 indexed partyId, address indexed newAccount);

    /// @notice Admits a new party with its first accounts: registrar role for firms, universities, service
    /// agencies and individuals; governance role for arbitration institutions, financial institutions and asset verifiers.
    /// @param profile Kind, jurisdiction, canonical identifier and names; the identifier must not be held by
    /// another party.
    /// @param accounts One to `MAX_ACCOUNTS` accounts, none attached to a party, none holding a role.
    /// @return partyId The new party's id, counting from 1.
    function admitParty(PartyProfile calldata profile, address[] calldata accounts) external returns (uint256 partyId);

    /// @notice A party's own account change, relayed by anyone. Needs `threshold` distinct accounts of the
    /// party to sign the `AccountChange`, and for Add and Rotate the incoming account's signature of the same
    /// digest (proof that it consents to join). Works while the party is suspended (to rotate out a stolen key).
    function changeAccounts(
        AccountChange calldata change,
        AccountSignature[] calldata signatures,
        bytes calldata newAccountSignature
    ) external;

    /// @notice Governance proposes to replace every account of a party by `newAccount` (a lost key). It can be
    /// executed by anyone after `recoveryDelay()` seconds unless an account of the party vetoes it first.
    function proposeRecovery(uint256 partyId, address newAccount) external;

    /// @notice An account of the party vetoes its pending recovery: sent by the account itself (empty
    /// signature), or relayed with its EIP-712 `RecoveryVeto(partyId, newAccount, executableAt)` signature.
    function vetoRecovery(uint256 partyId, address account, bytes calldata signature) external;

    /// @notice Governance withdraws a pending recovery.
    function cancelRecovery(uint256 partyId) external;

    /// @notice Carries out a pending recovery once its delay has passed. Anyone may call it.
    function executeRecovery(uint256 partyId) external;

    /// @notice The pending recovery of a party (zero values if none).
    function pendingRecovery(uint256 partyId) external view returns (address newAccount, uint64 executableAt);

    /// @notice Suspends a party: its accounts can no longer register or sign. A registrar's suspension is
    /// provisional and lapses unless governance confirms it in time; a registrar cannot suspend again a party
    /// whose provisional suspension lapsed (governance can). A governance suspension is confirmed at once.
    /// @param reasonHash Hash of the suspension decision, for the record.
    function suspendParty(uint256 partyId, bytes32 reasonHash) external;

    /// @notice Governance confirms a provisional suspension before it lapses.
    function confirmSuspension(uint256 partyId) external;

    /// @notice Lifts a suspension: the registrar lifts provisional ones, governance any.
    function reinstateParty(uint256 partyId) external;

    /// @notice Seconds a recovery waits for a veto.
    function recoveryDelay() external view returns (uint256);

    /// @notice Seconds within which governance must confirm a registrar's suspension.
    function suspensionConfirmationPeriod() external view returns (uint256);

    /// @notice Whether a party exists and no suspension of it is in force.
    function isActive(uint256 partyId) external view returns (bool);

    /// @notice The party with the given id; reverts `PartyUnknown` if none.
    function party(uint256 partyId) external view returns (Party memory);

    /// @notice The accounts currently attached to a party.
    function partyAccounts(uint256 partyId) external view returns (address[] memory);

    /// @notice The party an account belongs to (0 if none) and whether that party is active.
    function partyOf(address account) external view returns (uint256 partyId, bool active);

    /// @notice The party holding an identifier (0 if none); `identifier` in canonical form.
    function partyByIdentifier(IdentifierScheme scheme, string calldata identifier) external view returns (uint256);

    /// @notice How many parties have been admitted.
    function partyCount() external view returns (uint256);
}
