"""Pure knowledge of the ledger: codes, parsing, hashing, Merkle trees, EIP-712, identifiers, territories.

Nothing here touches the network, the disk or the clock; it imports only :mod:`ledger.errors` and libraries.
"""
