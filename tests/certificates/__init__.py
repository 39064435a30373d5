"""Tests of ledger/certificates/."""
