"""The HTTP API of Qianhai IP Ledger (FastAPI)."""
