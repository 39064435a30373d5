"""Benchmarks of the ledger against peers run side by side (``python -m benchmarks.run``).

Every measure is reported as a ratio against a peer measured in the same run (or against an absolute
limit from the product issue), because the machines this runs on are small and noisy.
"""
