"""Data generator and benchmarks of the membership engine on PostgreSQL (`python -m bench`).

Every module here works on its own database, by default
postgres://postgres:postgres@127.0.0.1:5432/bench; set DATABASE_URL to use another. It refuses
SQLite and the databases the project's tests and demo use (portal, test_*), because the
generator truncates the membership tables."""
