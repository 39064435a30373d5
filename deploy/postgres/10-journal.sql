-- Run once by the postgres image when it initialises an empty pg-data volume (docker-entrypoint-initdb.d):
-- the journal's own database, apart from the index's (`ipledger`). The index drops and rebuilds its tables; the
-- journal's rows exist nowhere else. An existing volume is not initialised again: create it by hand
-- (docs/deployment.md, "The journal on PostgreSQL").
CREATE DATABASE ipledger_journal OWNER ipledger;
