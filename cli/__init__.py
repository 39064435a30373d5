"""The ``ipledger`` command: one module per command group, the root app in :mod:`cli.main`."""
