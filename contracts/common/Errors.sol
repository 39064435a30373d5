// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @dev Errors shared by more than one Qianhai IP Ledger contract.

/// @notice The account is not an account of any admitted party.
error AccountNotAParty(address account);

/// @notice The party exists but is suspended; a suspended party signs and registers nothing.
error PartyNotActive(uint256 partyId);

/// @notice The party id does not name an admitted party.
error PartyUnknown(uint256 partyId);

/// @notice A delegated signature was used after its deadline.
error SignatureExpired(uint64 deadline, uint64 timestamp);

/// @notice A delegated signature does not verify for the given signer (ECDSA or ERC-1271).
error SignatureInvalid(address signer);

/// @notice A delegated signature names a nonce other than the signer's current one.
error NonceMismatch(address signer, uint256 expected, uint256 given);

/// @notice A delegated signature's deadline is further ahead than the signing window allows (365 days).
error SignatureDeadlineTooFar(uint64 deadline, uint64 latest);
