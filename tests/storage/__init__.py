"""Tests of ledger/storage/."""
