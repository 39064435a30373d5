"""Everything that talks to an EVM node: connections, the embedded node, transactions (one sender), contract
artifacts, the deployment's address book, governance through the council Safe and its timelock, and the
:class:`~ledger.chain.connection.Connection` the services receive."""
