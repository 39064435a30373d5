"""Tests of ledger/domain/."""
