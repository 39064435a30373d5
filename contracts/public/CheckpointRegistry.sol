// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";

/// @title CheckpointRegistry
/// @notice Deployed on a public EVM chain, it records checkpoints of one consortium deployment of the ledger: for a
///         contiguous range of consortium blocks, the consortium block hash at the range's last block and an RFC 9162
///         Merkle root over the range's evidence records and batch roots (docs/certificate.md "Checkpoints on a
///         public chain"). Only its owner (the anchor key) writes; ownership moves in two steps (Ownable2Step).
///         Append-only: each checkpoint starts at the block after the previous one's last block (the first at
///         `firstBlock`), so ranges never leave a gap, overlap or go back.
contract CheckpointRegistry is Ownable2Step {
    /// @notice One checkpoint, packed in three storage slots.
    /// @param fromBlock first consortium block covered
    /// @param toBlock last consortium block covered (at or after fromBlock)
    /// @param recordedAt this chain's block time when it was recorded
    /// @param consortiumBlockHash the consortium block hash at toBlock
    /// @param root RFC 9162 Merkle root over the range's leaves
    struct Checkpoint {
        uint64 fromBlock;
        uint64 toBlock;
        uint64 recordedAt;
        bytes32 consortiumBlockHash;
        bytes32 root;
    }

    /// @notice The range does not start right after the previous checkpoint's last block.
    /// @param expected the block the next checkpoint must start at
    /// @param given the fromBlock given
    error CheckpointRegistryNotContiguous(uint64 expected, uint64 given);

    /// @notice The range ends before it starts.
    error CheckpointRegistryEmptyRange(uint64 fromBlock, uint64 toBlock);

    /// @notice A zero block hash or root: nothing to commit to.
    error CheckpointRegistryZeroCommitment();

    /// @notice No checkpoint has this index.
    error CheckpointRegistryUnknown(uint256 index);

    /// @notice Emitted when a checkpoint is recorded, right after it is stored.
    event CheckpointRecorded(
        uint256 indexed index,
        uint64 fromBlock,
        uint64 toBlock,
        bytes32 consortiumBlockHash,
        bytes32 root
    );

    /// @notice The consortium chain's id.
    uint256 public immutable consortiumChainId;
    /// @notice The consortium's EvidenceRegistry, whose events the checkpoints cover.
    address public immutable registry;
    /// @notice The first consortium block of the first checkpoint (the registry's deployment block).
    uint64 public immutable firstBlock;

    Checkpoint[] private _checkpoints;

    constructor(uint256 consortiumChainId_, address registry_, uint64 firstBlock_, address writer)
        Ownable(writer)
    {
        consortiumChainId = consortiumChainId_;
        registry = registry_;
        firstBlock = firstBlock_;
    }

    /// @notice Records the next checkpoint; only the owner.
    function record(uint64 fromBlock, uint64 toBlock, bytes32 consortiumBlockHash, bytes32 root)
        external
        onlyOwner
        returns (uint256 index)
    {
        uint64 expected = nextBlock();
        if (fromBlock != expected) revert CheckpointRegistryNotContiguous(expected, fromBlock);
        if (toBlock < fromBlock) revert CheckpointRegistryEmptyRange(fromBlock, toBlock);
        if (consortiumBlockHash == bytes32(0) || root == bytes32(0)) revert CheckpointRegistryZeroCommitment();
        index = _checkpoints.length;
        _checkpoints.push(Checkpoint(fromBlock, toBlock, uint64(block.timestamp), consortiumBlockHash, root));
        emit CheckpointRecorded(index, fromBlock, toBlock, consortiumBlockHash, root);
    }

    /// @notice The consortium block the next checkpoint must start at.
    function nextBlock() public view returns (uint64) {
        uint256 n = _checkpoints.length;
        if (n > 0) return _checkpoints[n - 1].toBlock + 1;
        return firstBlock;
    }

    /// @notice How many checkpoints are recorded.
    function count() external view returns (uint256) {
        return _checkpoints.length;
    }

    /// @notice The checkpoint at `index`.
    function checkpoint(uint256 index) external view returns (Checkpoint memory) {
        if (index >= _checkpoints.length) revert CheckpointRegistryUnknown(index);
        return _checkpoints[index];
    }
}
