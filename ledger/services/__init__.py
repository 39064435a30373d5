"""Use cases: parties, evidence and its pipeline, assets, agreements, disputes, case files, documents.

Each service receives what it uses (the chain connection, the journal, the services it calls) from
:mod:`ledger.facade`, and returns typed results.
"""
