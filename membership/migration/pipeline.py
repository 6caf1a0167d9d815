"""The import's pipeline: `write_behind(connection)` is the import's transaction, during which a
batch's writes run in a second thread while the next batch is parsed and checked, with fewer garbage
collections. Outside it (the admin's row-by-row import) `AT_ONCE` reads through the import's own
connection and has nothing to wait for."""

import gc
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

from django.db import connection, connections, transaction

from .bulk import BulkWriter, check_deferred_foreign_keys


@contextmanager
def write_behind(conn):
    """One transaction on `conn` (the import's connection) for the whole import, with a `WriteBehind`
    to hand the batches' writes to, and the garbage collector's threshold raised. The checks read
    committed rows through a second connection while a batch is written, when nothing uncommitted of
    the caller's could be missed: when the import is the whole transaction."""
    side_reader = not conn.in_atomic_block
    with _fewer_collections(), transaction.atomic(using=conn.alias), WriteBehind(conn, side_reader=side_reader) as w:
        yield w


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


class _AtOnce:
    """No write-behind: reads go through the import's own connection, and no write is pending."""

    reader = connection

    def wait(self) -> None:
        pass


AT_ONCE = _AtOnce()


class WriteBehind:
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

    def __init__(self, conn, *, side_reader: bool):
        self.alias = conn.alias
        self.connection = connections[self.alias]  # the object itself, not the per-thread proxy
        self.threaded = self.connection.vendor == "postgresql"
        self.pending = None
        self.reader = connection
        self.side_reader = side_reader and self.threaded

    def __enter__(self):
        if self.threaded:
            self.connection.inc_thread_sharing()
            self.pool = ThreadPoolExecutor(1, thread_name_prefix="import-writer", initializer=self._share)
        if self.side_reader:
            self.reader = connections.create_connection(self.alias)
        return self

    def _share(self) -> None:
        connections[self.alias] = self.connection

    def _flush(self, bulk: BulkWriter) -> None:
        bulk.flush()
        check_deferred_foreign_keys(self.connection)

    def submit(self, bulk: BulkWriter) -> None:
        """Write this batch once the one before is written: behind, in the writer thread, on PostgreSQL."""
        self.wait()
        if self.threaded:
            self.pending = self.pool.submit(self._flush, bulk)
        else:
            bulk.flush()

    def wait(self) -> None:
        """Wait until the batch handed over last is written; raises what its write raised."""
        if self.pending is not None:
            pending, self.pending = self.pending, None
            pending.result()

    def __exit__(self, *exc_info):
        if self.side_reader:
            self.reader.close()
        if self.threaded:
            self.pool.shutdown(wait=True)  # the transaction's end needs the connection back
            self.connection.dec_thread_sharing()
        if exc_info[0] is None:
            self.wait()
