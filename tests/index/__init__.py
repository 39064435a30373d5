"""Tests of ledger/index/."""
