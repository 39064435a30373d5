"""Tests of ledger/chain/."""
