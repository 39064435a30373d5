"""Qianhai IP Ledger: blockchain-backed evidence of IP creation and IP agreements."""

__version__ = "0.1.0"
