"""Pure knowledge of the ledger: codes (every on-chain enum), parsing, hashing, canonical JSON, evidence metadata,
Merkle trees, EIP-712, identifiers, territories, the typed terms of agreements.

Nothing here touches the network, the disk or the clock; it imports only :mod:`ledger.errors` and libraries.
"""
