"""The arbitrator's path: build, parse and verify certificates and case files with JSON-RPC only.

It never imports the chain layer, storage or services, so that anyone can re-implement it from docs/certificate.md.
"""
