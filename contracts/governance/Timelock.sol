// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {TimelockController} from "@openzeppelin/contracts/governance/TimelockController.sol";

/// @title Timelock
/// @notice The ledger's governance account: OpenZeppelin's audited TimelockController, unchanged. The consortium
///         council (a Safe multisig) is its proposer and canceller; once an operation's delay has passed anyone
///         may execute it (docs/security.md "Governance"). Holding GOVERNANCE_ROLE and the default admin role of
///         the party registry, it is the only account that can admit powerful kinds, confirm suspensions and
///         propose recoveries, each after a public delay.
contract Timelock is TimelockController {
    constructor(uint256 minDelay, address[] memory proposers, address[] memory executors, address admin)
        TimelockController(minDelay, proposers, executors, admin)
    {}
}
