// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessControlDefaultAdminRules} from "@openzeppelin/contracts/access/extensions/AccessControlDefaultAdminRules.sol";
import {IPartyRegistry} from "./interfaces/IPartyRegistry.sol";
import {AccountNotAParty, PartyNotActive, PartyUnknown} from "./common/Errors.sol";

/// @title PartyRegistry
/// @notice Parties and their accounts, administered by the zone operator. The operator is the default admin
/// (two-step handover with a delay, OpenZeppelin `AccessControlDefaultAdminRules`); it grants `REGISTRAR_ROLE`
/// to the accounts that admit and suspend parties.
/// @dev Abstract so that registries that must check parties on their hot path (evidence) inherit it and read
/// the account slot in the same contract, saving an external call per registration.
abstract contract PartyRegistry is IPartyRegistry, AccessControlDefaultAdminRules {
    /// @notice Role of the accounts allowed to admit, suspend and manage parties.
    bytes32 public constant REGISTRAR_ROLE = keccak256("REGISTRAR_ROLE");

    /// @notice Most accounts one party may hold; keeps suspension a bounded loop.
    uint8 public constant MAX_ACCOUNTS = 16;

    /// @notice Largest party id; ids are stored in 24 bits in evidence records.
    uint256 public constant MAX_PARTY_ID = type(uint24).max;

    error PartyKindInvalid(uint8 kind);
    error PartyJurisdictionInvalid(uint8 jurisdiction);
    error PartyIdentifierInvalid();
    error PartyIdentifierTaken(uint256 partyId);
    error PartyNameMissing();
    error PartyAccountsInvalid(uint256 count);
    error PartyAccountZero();
    error PartyAccountTaken(address account, uint256 partyId);
    error PartyAccountLimitReached(uint256 partyId);
    error PartyLastAccount(uint256 partyId);
    error PartyAlreadySuspended(uint256 partyId);
    error PartyNotSuspended(uint256 partyId);
    error PartyRegistryFull();

    /// @dev One slot per account: its party, a mirror of the party's status and the account's nonce for delegated
    /// signatures, so that a registration by signature reads one slot for all three. The nonce belongs to the
    /// account, not to its membership: removing, rotating out or re-adding an account leaves it as it was.
    struct AccountInfo {
        uint24 partyId;
        bool suspended;
        uint64 nonce;
    }

    mapping(uint256 partyId => Party party) private _parties;
    mapping(uint256 partyId => address[] accounts) private _accounts;
    mapping(address account => AccountInfo info) private _accountInfo;
    mapping(bytes32 identifierCommitment => uint256 partyId) private _partyByIdentifier;
    uint256 private _partyCount;

    constructor(address operator) AccessControlDefaultAdminRules(0, operator) {
        _grantRole(REGISTRAR_ROLE, operator);
    }

    /// @inheritdoc IPartyRegistry
    function admitParty(PartyProfile calldata profile, address[] calldata accounts)
        external
        onlyRole(REGISTRAR_ROLE)
        returns (uint256 partyId)
    {
        if (profile.kind == PartyKind.None) revert PartyKindInvalid(uint8(profile.kind));
        if (profile.jurisdiction == Jurisdiction.None) revert PartyJurisdictionInvalid(uint8(profile.jurisdiction));
        uint256 idLength = bytes(profile.identifier).length;
        if (profile.scheme == IdentifierScheme.None || idLength == 0 || idLength > 64) revert PartyIdentifierInvalid();
        if (bytes(profile.nameZh).length == 0 && bytes(profile.nameEn).length == 0) revert PartyNameMissing();
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

    /// @inheritdoc IPartyRegistry
    function addAccount(uint256 partyId, address account) external onlyRole(REGISTRAR_ROLE) {
        _requireParty(partyId);
        _addAccount(partyId, account);
    }

    /// @inheritdoc IPartyRegistry
    function removeAccount(address account) external onlyRole(REGISTRAR_ROLE) {
        uint256 partyId = _accountInfo[account].partyId;
        if (partyId == 0) revert AccountNotAParty(account);
        if (_parties[partyId].accountCount == 1) revert PartyLastAccount(partyId);
        _removeAccount(partyId, account);
    }

    /// @inheritdoc IPartyRegistry
    function rotateAccount(address oldAccount, address newAccount) external onlyRole(REGISTRAR_ROLE) {
        uint256 partyId = _accountInfo[oldAccount].partyId;
        if (partyId == 0) revert AccountNotAParty(oldAccount);
        _rotate(partyId, oldAccount, newAccount);
    }

    /// @dev Replaces an account of a party by another (the party's own rotation, or the registrar's).
    function _rotate(uint256 partyId, address oldAccount, address newAccount) internal {
        _removeAccount(partyId, oldAccount);
        _addAccount(partyId, newAccount);
    }

    /// @inheritdoc IPartyRegistry
    function suspendParty(uint256 partyId, bytes32 reasonHash) external onlyRole(REGISTRAR_ROLE) {
        Party storage p = _requireParty(partyId);
        if (p.suspended) revert PartyAlreadySuspended(partyId);
        p.suspended = true;
        _mirrorStatus(partyId, true);
        emit PartySuspended(partyId, reasonHash);
    }

    /// @inheritdoc IPartyRegistry
    function reinstateParty(uint256 partyId) external onlyRole(REGISTRAR_ROLE) {
        Party storage p = _requireParty(partyId);
        if (!p.suspended) revert PartyNotSuspended(partyId);
        p.suspended = false;
        _mirrorStatus(partyId, false);
        emit PartyReinstated(partyId);
    }

    /// @inheritdoc IPartyRegistry
    function party(uint256 partyId) external view returns (Party memory) {
        return _requireParty(partyId);
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

    /// @dev The party id of an account of an active party; reverts otherwise. One storage read.
    function _activePartyOf(address account) internal view returns (uint24 partyId) {
        bool suspended;
        (partyId, suspended, ) = _accountState(account);
        _requireActive(account, partyId, suspended);
    }

    /// @dev Everything the hot path needs about an account, in one storage read: its party (0 if none), whether
    /// that party is suspended, and the account's nonce for delegated signatures.
    function _accountState(address account) internal view returns (uint24 partyId, bool suspended, uint64 nonce) {
        AccountInfo storage info = _accountInfo[account];
        return (info.partyId, info.suspended, info.nonce);
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

    function _requireParty(uint256 partyId) private view returns (Party storage p) {
        if (partyId == 0 || partyId > _partyCount) revert PartyUnknown(partyId);
        return _parties[partyId];
    }

    function _identifierCommitment(IdentifierScheme scheme, string calldata identifier) private pure returns (bytes32) {
        return keccak256(abi.encode(scheme, identifier));
    }

    function _addAccount(uint256 partyId, address account) private {
        if (account == address(0)) revert PartyAccountZero();
        uint256 holder = _accountInfo[account].partyId;
        if (holder != 0) revert PartyAccountTaken(account, holder);
        Party storage p = _parties[partyId];
        if (p.accountCount >= MAX_ACCOUNTS) revert PartyAccountLimitReached(partyId);
        p.accountCount += 1;
        _accounts[partyId].push(account);
        AccountInfo storage info = _accountInfo[account];
        info.partyId = uint24(partyId);
        info.suspended = p.suspended;
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
