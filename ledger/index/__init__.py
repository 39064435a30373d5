"""The read model: an SQL index of the contracts' events, kept in step with the chain (reorgs included)."""
