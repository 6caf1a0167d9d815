"""The import's pipeline: a batch's writes run in a second thread while the next batch is parsed and
checked, with fewer garbage collections while the import runs."""

import gc
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

from django.db import DEFAULT_DB_ALIAS, connection, connections

from .bulk import BulkWriter


@contextmanager
def _fewer_collections():
    """An import allocates millions of short-lived objects while its sets of phones, keys and numbers
    grow; at the default threshold (700 allocations) the cycle collector runs thousands of times and
    took about a sixth of the import's CPU. Raised while the import runs, restored after."""
    threshold = gc.get_threshold()
    gc.set_threshold(50_000, 20, 100)
    try:
        yield
    finally:
        gc.set_threshold(*threshold)


class _Writer:
    """Runs a batch's planned writes (`BulkWriter.flush`: the COPYs and updates) in a second thread on
    the import's own connection, hence in its transaction, while the main thread parses the next
    batch, so that the database's work on one batch overlaps Python's on the next. The deferred
    foreign-key checks of the batch's rows are run there too (instead of all at COMMIT, where nothing
    overlaps them). The two threads never use the import's connection at once: meanwhile the main
    thread checks and prepares the next batch reading committed rows through a second connection
    (`reader`; what this import wrote so far it knows itself), and waits for the write (`wait`)
    before it uses the import's connection: to lock rows, or to read a member or card of an earlier
    batch. Inside a caller's transaction, whose rows a second connection would not see, there is no
    second connection and the main thread waits before each check. PostgreSQL only; elsewhere
    `BulkWriter` writes at once and there is nothing to flush."""

    def __init__(self, *, side_reader: bool):
        self.connection = connections[DEFAULT_DB_ALIAS]
        self.threaded = self.connection.vendor == "postgresql"
        self.pending = None
        self.reader = connection
        self.side_reader = side_reader and self.threaded

    def __enter__(self):
        if self.threaded:
            self.connection.inc_thread_sharing()
            self.pool = ThreadPoolExecutor(1, thread_name_prefix="import-writer", initializer=self._share)
        if self.side_reader:
            self.reader = connections.create_connection(DEFAULT_DB_ALIAS)
        return self

    def _share(self) -> None:
        connections[DEFAULT_DB_ALIAS] = self.connection

    def _flush(self, bulk: BulkWriter) -> None:
        bulk.flush()
        with self.connection.cursor() as cur:
            cur.execute("SET CONSTRAINTS ALL IMMEDIATE")  # checks the foreign keys the batch queued
            cur.execute("SET CONSTRAINTS ALL DEFERRED")  # Django's foreign keys are initially deferred

    def submit(self, bulk: BulkWriter) -> None:
        self.wait()
        if self.threaded:
            self.pending = self.pool.submit(self._flush, bulk)
        else:
            bulk.flush()

    def wait(self) -> None:
        if self.pending is not None:
            pending, self.pending = self.pending, None
            pending.result()  # raises what the write raised

    def __exit__(self, *exc_info):
        if self.side_reader:
            self.reader.close()
        if self.threaded:
            self.pool.shutdown(wait=True)  # the transaction's end needs the connection back
            self.connection.dec_thread_sharing()
        if exc_info[0] is None:
            self.wait()
