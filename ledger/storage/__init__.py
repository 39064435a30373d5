"""The data directory's durable state: the journal (``journal.sqlite3``), the document vault and keystores.
The only code that opens files or SQL in the data directory."""
