"""Tests of ledger/services/."""
