"""Everything that talks to an EVM node: connections (rpc), revert decoding (codec), the shared head (head), the
one sender of transactions (sender), the embedded node (node), contract artifacts, the deployment's address book,
governance through the council Safe and its timelock, and the :class:`~ledger.chain.connection.Connection` the
services receive."""
