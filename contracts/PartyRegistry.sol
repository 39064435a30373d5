// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessControlDefaultAdminRules} from "@openzeppelin/contracts/access/extensions/AccessControlDefaultAdminRules.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {IPartyRegistry} from "./interfaces/IPartyRegistry.sol";
import {AccountNotAParty, PartyNotActive, PartyUnknown, SignatureExpired, SignatureInvalid} from "./common/Errors.sol";

/// @title PartyRegistry
/// @notice Parties and their accounts, with the powers over them separated (docs/security.md):
/// - `REGISTRAR_ROLE` (the zone registry service) admits firms, universities, service agencies and individuals
///   (natural persons, known on chain only by a salted commitment), changes
///   kinds among those, and suspends provisionally;
/// - `GOVERNANCE_ROLE` (an address a timelock can hold; also the default admin, handed over only after a delay)
///   admits and re-kinds arbitration institutions, financial institutions and asset verifiers, confirms
///   suspensions, and recovers a lost key after a public delay that the party's accounts can veto;
/// - a party alone adds, rotates and removes its accounts, by its accounts' EIP-712 signatures (m-of-n, a
///   contract wallet counting as one account), each change carrying the party's nonce and a bounded deadline.
/// No role can add, rotate or remove a party's account, and no role holder can be a party's account.
/// @dev Abstract so that registries that must check parties on their hot path (evidence) inherit it and read
/// the account slot in the same contract, saving an external call per registration.
abstract contract PartyRegistry is IPartyRegistry, AccessControlDefaultAdminRules {
    /// @notice Role of the accounts that admit ordinary parties and suspend provisionally.
    bytes32 public constant REGISTRAR_ROLE = keccak256("REGISTRAR_ROLE");

    /// @notice Role of governance (the consortium council through a timelock).
    bytes32 public constant GOVERNANCE_ROLE = keccak256("GOVERNANCE_ROLE");

    /// @notice Most accounts one party may hold; keeps suspension and recovery bounded loops.
    uint8 public constant MAX_ACCOUNTS = 16;

    /// @notice Largest party id; ids are stored in 24 bits in evidence records.
    uint256 public constant MAX_PARTY_ID = type(uint24).max;

    /// @notice Furthest ahead an account-change signature's deadline may be.
    uint256 internal constant MAX_SIGNATURE_WINDOW = 365 days;

    /// @notice Bounds of the constructor's delays.
    uint256 internal constant MAX_DELAY = 365 days;

    /// @notice EIP-712 type of a party's own account change:
    /// AccountChange(uint256 partyId,uint8 action,address account,address newAccount,uint8 threshold,uint64 nonce,uint64 deadline)
    bytes32 public constant ACCOUNT_CHANGE_TYPEHASH = keccak256(
        "AccountChange(uint256 partyId,uint8 action,address account,address newAccount,uint8 threshold,uint64 nonce,uint64 deadline)"
    );

    /// @notice EIP-712 type of a relayed veto of a pending recovery:
    /// RecoveryVeto(uint256 partyId,address newAccount,uint64 executableAt)
    bytes32 public constant RECOVERY_VETO_TYPEHASH =
        keccak256("RecoveryVeto(uint256 partyId,address newAccount,uint64 executableAt)");

    /// @dev Letters A…Z to their GB 32100 values (0xff: not in the USCC alphabet: I, O, S, V, Z).
    bytes26 private constant USCC_LETTERS = 0x0a0b0c0d0e0f1011ff1213141516ff171819ff1a1bff1c1d1eff;

    error PartyKindInvalid(uint8 kind);
    error PartyKindNeedsGovernance(uint8 kind);
    error PartyJurisdictionInvalid(uint8 jurisdiction);
    error PartyIdentifierInvalid();
    error PartyIdentifierNotCanonical(uint8 scheme);
    error PartyIdentifierTaken(uint256 partyId);
    error PartyNameMissing();
    /// @dev An individual's profile carries a name: personal data never goes on chain (docs/privacy.md).
    error PartyPersonalDataOnChain();
    error PartyAccountsInvalid(uint256 count);
    error PartyAccountZero();
    error PartyAccountTaken(address account, uint256 partyId);
    error PartyAccountHoldsRole(address account);
    error PartyAccountNotOfParty(address account, uint256 partyId);
    error PartyAccountLimitReached(uint256 partyId);
    error PartyLastAccount(uint256 partyId);
    error PartyAlreadySuspended(uint256 partyId);
    error PartyNotSuspended(uint256 partyId);
    error PartySuspensionLapsed(uint256 partyId);
    error PartySuspensionNeedsGovernance(uint256 partyId);
    error PartyRegistryFull();
    error PartyChangeInvalid();
    error PartyThresholdInvalid(uint8 threshold, uint256 accountCount);
    error PartyNonceMismatch(uint256 partyId, uint64 expected, uint64 given);
    error PartyDeadlineTooFar(uint64 deadline, uint64 latest);
    error PartyConsentMissing(uint256 partyId, uint256 signed, uint8 threshold);
    error PartySignersUnordered();
    error RecoveryPending(uint256 partyId, uint64 executableAt);
    error RecoveryNotPending(uint256 partyId);
    error RecoveryNotYet(uint256 partyId, uint64 executableAt);
    error PartyDelayInvalid(uint256 delay);

    /// @dev One slot per account: its party, whether a suspension record exists for its party (then the
    /// party's slot says whether it is in force), and the account's nonce for delegated signatures, so that a
    /// registration by signature of an unsuspended party reads one slot for all three. The nonce belongs to the
    /// account, not to its membership: removing, rotating out or re-adding an account leaves it as it was.
    struct AccountInfo {
        uint24 partyId;
        bool suspended;
        uint64 nonce;
    }

    /// @dev A pending recovery of a party.
    struct Recovery {
        address newAccount;
        uint64 executableAt;
    }

    mapping(uint256 partyId => Party party) private _parties;
    mapping(uint256 partyId => address[] accounts) private _accounts;
    mapping(address account => AccountInfo info) private _accountInfo;
    mapping(bytes32 identifierCommitment => uint256 partyId) private _partyByIdentifier;
    mapping(uint256 partyId => Recovery recovery) private _recoveries;
    uint256 private _partyCount;

    uint256 private immutable _recoveryDelay;
    uint256 private immutable _suspensionPeriod;

    /// @param governance Default admin (handed over only after `recoveryDelay_`) and holder of `GOVERNANCE_ROLE`.
    /// @param registrar Holder of `REGISTRAR_ROLE`.
    /// @param recoveryDelay_ Seconds a recovery waits for a veto (1 … 365 days).
    /// @param suspensionPeriod_ Seconds within which governance must confirm a registrar's suspension.
    constructor(address governance, address registrar, uint256 recoveryDelay_, uint256 suspensionPeriod_)
        AccessControlDefaultAdminRules(uint48(recoveryDelay_), governance)
    {
        if (recoveryDelay_ == 0 || recoveryDelay_ > MAX_DELAY) revert PartyDelayInvalid(recoveryDelay_);
        if (suspensionPeriod_ == 0 || suspensionPeriod_ > MAX_DELAY) revert PartyDelayInvalid(suspensionPeriod_);
        _recoveryDelay = recoveryDelay_;
        _suspensionPeriod = suspensionPeriod_;
        _grantRole(GOVERNANCE_ROLE, governance);
        _grantRole(REGISTRAR_ROLE, registrar);
    }

    // --- admission -------------------------------------------------------------------------------------

    /// @inheritdoc IPartyRegistry
    function admitParty(PartyProfile calldata profile, address[] calldata accounts) external returns (uint256 partyId) {
        _requireAdmitter(profile.kind);
        if (profile.jurisdiction == Jurisdiction.None) revert PartyJurisdictionInvalid(uint8(profile.jurisdiction));
        IdentifierScheme scheme = profile.scheme;
        // an individual, and only an individual, is identified by a person commitment, and carries no name
        // (EvidenceRegistry is within a few bytes of the 24,576-byte limit: the checks below are written for size)
        bool person = profile.kind == PartyKind.Individual;
        if (person != (scheme == IdentifierScheme.PersonCommitment)) {
            revert PartyIdentifierInvalid();
        }
        _requireCanonical(scheme, bytes(profile.identifier));
        if ((bytes(profile.nameZh).length == 0 && bytes(profile.nameEn).length == 0) != person) {
            if (person) revert PartyPersonalDataOnChain();
            revert PartyNameMissing();
        }
        if (accounts.length == 0 || accounts.length > MAX_ACCOUNTS) revert PartyAccountsInvalid(accounts.length);
        bytes32 commitment = _identifierCommitment(profile.scheme, profile.identifier);
        uint256 holder = _partyByIdentifier[commitment];
        if (holder != 0) revert PartyIdentifierTaken(holder);
        partyId = ++_partyCount;
        if (partyId > MAX_PARTY_ID) revert PartyRegistryFull();

        Party storage p = _parties[partyId];
        p.kind = profile.kind;
        p.jurisdiction = profile.jurisdiction;
        p.scheme = profile.scheme;
        p.threshold = 1;
        p.admittedAt = uint32(block.timestamp);
        p.identifier = profile.identifier;
        p.nameZh = profile.nameZh;
        p.nameEn = profile.nameEn;
        _partyByIdentifier[commitment] = partyId;
        emit PartyAdmitted(partyId, commitment, profile);
        for (uint256 i = 0; i < accounts.length; ++i) {
            _addAccount(partyId, accounts[i]);
        }
    }

    // --- a party's own accounts ------------------------------------------------------------------------

    /// @inheritdoc IPartyRegistry
    function changeAccounts(
        AccountChange calldata change,
        AccountSignature[] calldata signatures,
        bytes calldata newAccountSignature
    ) external {
        uint256 partyId = change.partyId;
        Party storage p = _requireParty(partyId);
        uint64 deadline = change.deadline;
        if (block.timestamp > deadline) revert SignatureExpired(deadline, uint64(block.timestamp));
        uint64 latest = uint64(block.timestamp + MAX_SIGNATURE_WINDOW);
        if (deadline > latest) revert PartyDeadlineTooFar(deadline, latest);
        uint64 nonce = p.accountNonce;
        if (change.nonce != nonce) revert PartyNonceMismatch(partyId, nonce, change.nonce);
        bytes32 digest = _accountChangeDigest(change);
        _requireConsent(partyId, p.threshold, digest, signatures);
        p.accountNonce = nonce + 1;

        AccountAction action = change.action;
        address account = change.account;
        if (action == AccountAction.Add) {
            if (change.newAccount != address(0)) revert PartyChangeInvalid();
            _requireJoinConsent(account, digest, newAccountSignature);
            _addAccount(partyId, account);
        } else if (action == AccountAction.Remove) {
            if (change.newAccount != address(0)) revert PartyChangeInvalid();
            _requireAccountOf(account, partyId);
            if (p.accountCount == 1) revert PartyLastAccount(partyId);
            _removeAccount(partyId, account);
        } else if (action == AccountAction.Rotate) {
            _requireAccountOf(account, partyId);
            _requireJoinConsent(change.newAccount, digest, newAccountSignature);
            _removeAccount(partyId, account);
            _addAccount(partyId, change.newAccount);
        } else if (action == AccountAction.SetThreshold) {
            if (account != address(0) || change.newAccount != address(0)) revert PartyChangeInvalid();
        } else {
            revert PartyChangeInvalid();
        }
        uint8 threshold = change.threshold;
        if (threshold == 0 || threshold > p.accountCount) revert PartyThresholdInvalid(threshold, p.accountCount);
        p.threshold = threshold;
        emit PartyAccountsChanged(partyId, action, nonce, threshold);
    }

    /// @dev The EIP-712 digest an `AccountChange` is signed as.
    function _accountChangeDigest(AccountChange calldata c) private view returns (bytes32) {
        return _partyDigest(
            keccak256(
                abi.encode(
                    ACCOUNT_CHANGE_TYPEHASH, c.partyId, c.action, c.account, c.newAccount, c.threshold, c.nonce, c.deadline
                )
            )
        );
    }

    // --- recovery of a lost key (governance, public delay, party veto) ---------------------------------

    /// @inheritdoc IPartyRegistry
    function proposeRecovery(uint256 partyId, address newAccount) external onlyRole(GOVERNANCE_ROLE) {
        _requireParty(partyId);
        Recovery storage r = _recoveries[partyId];
        if (r.executableAt != 0) revert RecoveryPending(partyId, r.executableAt);
        _requireAvailable(newAccount, partyId);
        uint64 executableAt = uint64(block.timestamp + _recoveryDelay);
        r.newAccount = newAccount;
        r.executableAt = executableAt;
        emit RecoveryProposed(partyId, newAccount, executableAt);
    }

    /// @inheritdoc IPartyRegistry
    function vetoRecovery(uint256 partyId, address account, bytes calldata signature) external {
        if (_recoveries[partyId].executableAt == 0) revert RecoveryNotPending(partyId);
        _requireAccountOf(account, partyId);
        if (msg.sender != account) {
            if (!SignatureChecker.isValidSignatureNowCalldata(account, _recoveryVetoDigest(partyId), signature)) {
                revert SignatureInvalid(account);
            }
        }
        delete _recoveries[partyId];
        emit RecoveryVetoed(partyId, account);
    }

    /// @inheritdoc IPartyRegistry
    function cancelRecovery(uint256 partyId) external onlyRole(GOVERNANCE_ROLE) {
        if (_recoveries[partyId].executableAt == 0) revert RecoveryNotPending(partyId);
        delete _recoveries[partyId];
        emit RecoveryCancelled(partyId);
    }

    /// @inheritdoc IPartyRegistry
    function executeRecovery(uint256 partyId) external {
        Recovery memory r = _recoveries[partyId];
        if (r.executableAt == 0) revert RecoveryNotPending(partyId);
        if (block.timestamp < r.executableAt) revert RecoveryNotYet(partyId, r.executableAt);
        _requireAvailable(r.newAccount, partyId);
        delete _recoveries[partyId];
        address[] storage list = _accounts[partyId];
        while (list.length != 0) {
            _removeAccount(partyId, list[list.length - 1]); // at most MAX_ACCOUNTS iterations
        }
        _addAccount(partyId, r.newAccount);
        Party storage p = _parties[partyId];
        p.threshold = 1;
        p.accountNonce += 1; // signed changes not yet relayed die with the old accounts
        emit RecoveryExecuted(partyId, r.newAccount);
    }

    /// @inheritdoc IPartyRegistry
    function pendingRecovery(uint256 partyId) external view returns (address newAccount, uint64 executableAt) {
        Recovery storage r = _recoveries[partyId];
        return (r.newAccount, r.executableAt);
    }

    /// @dev The EIP-712 digest a relayed veto is signed as.
    function _recoveryVetoDigest(uint256 partyId) private view returns (bytes32) {
        Recovery storage r = _recoveries[partyId];
        return _partyDigest(keccak256(abi.encode(RECOVERY_VETO_TYPEHASH, partyId, r.newAccount, r.executableAt)));
    }

    // --- suspension -------------------------------------------------------------------------------------

    /// @inheritdoc IPartyRegistry
    function suspendParty(uint256 partyId, bytes32 reasonHash) external {
        Party storage p = _requireParty(partyId);
        bool governance = hasRole(GOVERNANCE_ROLE, msg.sender);
        if (!governance) _checkRole(REGISTRAR_ROLE);
        if (_inForce(p)) revert PartyAlreadySuspended(partyId);
        if (!governance && p.suspension != SuspensionState.None) revert PartySuspensionLapsed(partyId);
        p.suspension = governance ? SuspensionState.Confirmed : SuspensionState.Provisional;
        p.suspendedAt = uint32(block.timestamp);
        p.suspended = true;
        _mirrorStatus(partyId, true);
        emit PartySuspended(partyId, reasonHash);
        if (governance) emit PartySuspensionConfirmed(partyId);
    }

    /// @inheritdoc IPartyRegistry
    function confirmSuspension(uint256 partyId) external onlyRole(GOVERNANCE_ROLE) {
        Party storage p = _requireParty(partyId);
        if (p.suspension != SuspensionState.Provisional) revert PartyNotSuspended(partyId);
        if (!_inForce(p)) revert PartySuspensionLapsed(partyId);
        p.suspension = SuspensionState.Confirmed;
        emit PartySuspensionConfirmed(partyId);
    }

    /// @inheritdoc IPartyRegistry
    function reinstateParty(uint256 partyId) external {
        Party storage p = _requireParty(partyId);
        SuspensionState s = p.suspension;
        if (s == SuspensionState.None) revert PartyNotSuspended(partyId);
        if (!hasRole(GOVERNANCE_ROLE, msg.sender)) {
            _checkRole(REGISTRAR_ROLE);
            // the registrar lifts only its own suspension while in force; a lapsed record is cleared by
            // governance, so that the registrar cannot lift and re-impose a suspension to dodge the lapse
            if (s == SuspensionState.Confirmed) revert PartySuspensionNeedsGovernance(partyId);
            if (!_inForce(p)) revert PartySuspensionLapsed(partyId);
        }
        p.suspension = SuspensionState.None;
        p.suspendedAt = 0;
        p.suspended = false;
        _mirrorStatus(partyId, false);
        emit PartyReinstated(partyId);
    }

    // --- views ------------------------------------------------------------------------------------------

    /// @inheritdoc IPartyRegistry
    function recoveryDelay() external view returns (uint256) {
        return _recoveryDelay;
    }

    /// @inheritdoc IPartyRegistry
    function suspensionConfirmationPeriod() external view returns (uint256) {
        return _suspensionPeriod;
    }

    /// @inheritdoc IPartyRegistry
    function isActive(uint256 partyId) external view returns (bool) {
        return partyId != 0 && partyId <= _partyCount && !_inForce(_parties[partyId]);
    }

    /// @inheritdoc IPartyRegistry
    function party(uint256 partyId) external view returns (Party memory p) {
        p = _requireParty(partyId);
        p.suspended = _inForce(_parties[partyId]);
    }

    /// @inheritdoc IPartyRegistry
    function partyAccounts(uint256 partyId) external view returns (address[] memory) {
        _requireParty(partyId);
        return _accounts[partyId];
    }

    /// @inheritdoc IPartyRegistry
    function partyOf(address account) public view returns (uint256 partyId, bool active) {
        (uint24 id, bool suspended, ) = _accountState(account);
        return (id, id != 0 && !suspended);
    }

    /// @inheritdoc IPartyRegistry
    function partyByIdentifier(IdentifierScheme scheme, string calldata identifier) external view returns (uint256) {
        return _partyByIdentifier[_identifierCommitment(scheme, identifier)];
    }

    /// @inheritdoc IPartyRegistry
    function partyCount() external view returns (uint256) {
        return _partyCount;
    }

    // --- for the inheriting registry --------------------------------------------------------------------

    /// @dev The EIP-712 digest of a struct hash in the inheriting contract's domain.
    function _partyDigest(bytes32 structHash) internal view virtual returns (bytes32);

    /// @dev Whether `account` holds a role of the inheriting contract; such an account cannot join a party.
    function _holdsRole(address account) internal view virtual returns (bool) {
        return hasRole(REGISTRAR_ROLE, account) || hasRole(GOVERNANCE_ROLE, account)
            || hasRole(DEFAULT_ADMIN_ROLE, account);
    }

    /// @dev The party id of an account of an active party; reverts otherwise.
    function _activePartyOf(address account) internal view returns (uint24 partyId) {
        bool suspended;
        (partyId, suspended, ) = _accountState(account);
        _requireActive(account, partyId, suspended);
    }

    /// @dev Everything the hot path needs about an account: its party (0 if none), whether a suspension of that
    /// party is in force, and the account's nonce for delegated signatures. One storage read while the party has
    /// no suspension record; a second (the party's slot) only when it has one, to see whether it lapsed.
    function _accountState(address account) internal view returns (uint24 partyId, bool suspended, uint64 nonce) {
        AccountInfo storage info = _accountInfo[account];
        (partyId, suspended, nonce) = (info.partyId, info.suspended, info.nonce);
        if (suspended) suspended = _inForce(_parties[partyId]);
    }

    /// @dev Reverts unless `partyId` and `suspended`, as read by `_accountState`, name an active party.
    function _requireActive(address account, uint24 partyId, bool suspended) internal pure {
        if (partyId == 0) revert AccountNotAParty(account);
        if (suspended) revert PartyNotActive(partyId);
    }

    /// @dev The account's nonce for delegated signatures.
    function _nonceOf(address account) internal view returns (uint64) {
        return _accountInfo[account].nonce;
    }

    /// @dev Increments the account's nonce, whether or not the account belongs to a party.
    function _bumpNonce(address account) internal returns (uint64 newNonce) {
        newNonce = ++_accountInfo[account].nonce;
    }

    // --- private ----------------------------------------------------------------------------------------

    function _inForce(Party storage p) private view returns (bool) {
        SuspensionState s = p.suspension;
        return s == SuspensionState.Confirmed
            || (s == SuspensionState.Provisional && block.timestamp < uint256(p.suspendedAt) + _suspensionPeriod);
    }

    function _carriesPower(PartyKind kind) private pure returns (bool) {
        return kind == PartyKind.ArbitrationInstitution || kind == PartyKind.FinancialInstitution
            || kind == PartyKind.AssetVerifier;
    }

    /// @dev Reverts unless the sender may admit (or re-kind into) `kind`.
    function _requireAdmitter(PartyKind kind) private view {
        if (kind == PartyKind.None) revert PartyKindInvalid(uint8(kind));
        if (_carriesPower(kind)) {
            if (!hasRole(GOVERNANCE_ROLE, msg.sender)) revert PartyKindNeedsGovernance(uint8(kind));
        } else {
            _checkRole(REGISTRAR_ROLE);
        }
    }

    /// @dev `threshold` distinct accounts of the party, in ascending address order, signed `digest`.
    function _requireConsent(uint256 partyId, uint8 threshold, bytes32 digest, AccountSignature[] calldata sigs)
        private
        view
    {
        if (sigs.length > MAX_ACCOUNTS) revert PartyAccountsInvalid(sigs.length);
        address previous = address(0);
        for (uint256 i = 0; i < sigs.length; ++i) {
            address signer = sigs[i].signer;
            if (signer <= previous) revert PartySignersUnordered();
            previous = signer;
            _requireAccountOf(signer, partyId);
            if (!SignatureChecker.isValidSignatureNowCalldata(signer, digest, sigs[i].signature)) {
                revert SignatureInvalid(signer);
            }
        }
        if (sigs.length < threshold) revert PartyConsentMissing(partyId, sigs.length, threshold);
    }

    /// @dev An account that joins a party proves it consents (and that its key works) by signing the change.
    function _requireJoinConsent(address account, bytes32 digest, bytes calldata signature) private view {
        if (account == address(0)) revert PartyAccountZero();
        if (!SignatureChecker.isValidSignatureNowCalldata(account, digest, signature)) revert SignatureInvalid(account);
    }

    function _requireAccountOf(address account, uint256 partyId) private view {
        if (account == address(0) || _accountInfo[account].partyId != partyId) {
            revert PartyAccountNotOfParty(account, partyId);
        }
    }

    /// @dev `account` may become an account of `partyId`: not zero, not another party's, holding no role.
    function _requireAvailable(address account, uint256 partyId) private view {
        if (account == address(0)) revert PartyAccountZero();
        uint256 holder = _accountInfo[account].partyId;
        if (holder != 0 && holder != partyId) revert PartyAccountTaken(account, holder);
        if (_holdsRole(account)) revert PartyAccountHoldsRole(account);
    }

    function _requireParty(uint256 partyId) private view returns (Party storage p) {
        if (partyId == 0 || partyId > _partyCount) revert PartyUnknown(partyId);
        return _parties[partyId];
    }

    function _identifierCommitment(IdentifierScheme scheme, string calldata identifier) private pure returns (bytes32) {
        return keccak256(abi.encode(scheme, identifier));
    }

    /// @dev One spelling per identifier, so that uniqueness by commitment cannot be dodged by a lookalike:
    /// USCC: 18 characters of the GB 32100-2015 alphabet (upper case) with the right check character;
    /// HK BRN: 8 ASCII digits; person commitment: "0x" and 64 lower-case hex digits; other: 1-64 printable ASCII
    /// characters, no lower-case letter, no leading, trailing or doubled space; no scheme: `PartyIdentifierInvalid`.
    /// Off chain, `ledger.identifiers.canonical_identifier` produces this form.
    function _requireCanonical(IdentifierScheme scheme, bytes calldata id) private pure {
        uint256 n = id.length;
        if (scheme == IdentifierScheme.USCC) {
            if (n != 18) revert PartyIdentifierNotCanonical(uint8(scheme));
            uint256 sum = 0;
            uint256 weight = 1;
            uint256 value;
            for (uint256 i = 0; i < 18; ++i) {
                value = _usccValue(id[i]);
                if (i == 17) break;
                sum += value * weight;
                weight = (weight * 3) % 31;
            }
            if (value != (31 - (sum % 31)) % 31) revert PartyIdentifierNotCanonical(uint8(scheme));
        } else if (scheme == IdentifierScheme.PersonCommitment) {
            bool ok = n == 66;
            // "0x", then 64 characters each 0-9 or a-f (assembly: the same check in a fraction of the code size)
            assembly ("memory-safe") {
                let p := id.offset
                ok := and(ok, eq(shr(240, calldataload(p)), 0x3078))
                for { let i := 2 } and(ok, lt(i, 66)) { i := add(i, 1) } {
                    let c := byte(0, calldataload(add(p, i)))
                    ok := or(lt(sub(c, 48), 10), lt(sub(c, 97), 6))
                }
            }
            if (!ok) revert PartyIdentifierNotCanonical(uint8(scheme));
        } else if (scheme == IdentifierScheme.HKBRN) {
            if (n != 8) revert PartyIdentifierNotCanonical(uint8(scheme));
            for (uint256 i = 0; i < 8; ++i) {
                if (id[i] < "0" || id[i] > "9") revert PartyIdentifierNotCanonical(uint8(scheme));
            }
        } else if (scheme == IdentifierScheme.None) {
            revert PartyIdentifierInvalid();
        } else {
            if (n == 0 || n > 64 || id[0] == " " || id[n - 1] == " ") revert PartyIdentifierNotCanonical(uint8(scheme));
            for (uint256 i = 0; i < n; ++i) {
                bytes1 c = id[i];
                if (c < 0x20 || c > 0x7e || (c >= "a" && c <= "z") || (c == " " && id[i - 1] == " ")) {
                    revert PartyIdentifierNotCanonical(uint8(scheme));
                }
            }
        }
    }

    function _usccValue(bytes1 c) private pure returns (uint256) {
        if (c >= "0" && c <= "9") return uint8(c) - 48;
        if (c >= "A" && c <= "Z") {
            uint8 v = uint8(USCC_LETTERS[uint8(c) - 65]);
            if (v != 0xff) return v;
        }
        revert PartyIdentifierNotCanonical(uint8(IdentifierScheme.USCC));
    }

    function _addAccount(uint256 partyId, address account) private {
        _requireAvailable(account, partyId);
        if (_accountInfo[account].partyId != 0) revert PartyAccountTaken(account, partyId);
        Party storage p = _parties[partyId];
        if (p.accountCount >= MAX_ACCOUNTS) revert PartyAccountLimitReached(partyId);
        p.accountCount += 1;
        _accounts[partyId].push(account);
        AccountInfo storage info = _accountInfo[account];
        info.partyId = uint24(partyId);
        info.suspended = p.suspension != SuspensionState.None;
        emit PartyAccountAdded(partyId, account);
    }

    function _removeAccount(uint256 partyId, address account) private {
        address[] storage list = _accounts[partyId];
        uint256 last = list.length - 1;
        for (uint256 i = 0; i <= last; ++i) {
            if (list[i] == account) {
                list[i] = list[last];
                list.pop();
                break;
            }
        }
        _parties[partyId].accountCount -= 1;
        AccountInfo storage info = _accountInfo[account];
        info.partyId = 0;
        info.suspended = false;
        emit PartyAccountRemoved(partyId, account);
    }

    function _mirrorStatus(uint256 partyId, bool suspended) private {
        address[] storage list = _accounts[partyId];
        for (uint256 i = 0; i < list.length; ++i) {
            _accountInfo[list[i]].suspended = suspended;
        }
    }
}
