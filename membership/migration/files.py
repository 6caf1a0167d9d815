"""A CSV or XLSX member file, read as it is imported."""

import csv
import io

from .cells import as_text


class MemberFile:
    """A CSV (UTF-8, with or without BOM) or XLSX member file, read as many times as needed: `rows()`
    gives its rows as dicts keyed by column, `column(name)` one column's cells (a first pass for the
    phones, without making a dict of every row)."""

    def __init__(self, fileobj, name: str = "members.csv"):
        self.data = self.text = None
        if name.lower().endswith(".xlsx"):
            import tablib

            self.data = tablib.Dataset().load(fileobj.read(), format="xlsx")
            self.headers = [as_text(h) for h in (self.data.headers or [])]
            self.total = len(self.data)
            return
        raw = fileobj.read()
        self.text = raw.decode("utf-8-sig") if isinstance(raw, bytes) else raw.lstrip("\ufeff")
        self.total = max(0, sum(1 for line in self.text.splitlines() if line.strip()) - 1)
        self.headers = [h.strip() for h in (self._reader().fieldnames or [])]

    def _reader(self) -> csv.DictReader:
        return csv.DictReader(io.StringIO(self.text))

    def rows(self):
        if self.data is not None:
            return (dict(zip(self.headers, r)) for r in self.data)
        reader = self._reader()
        if reader.fieldnames is not None:  # reading them reads the header line
            reader.fieldnames = self.headers  # the names stripped
        return reader

    def column(self, name: str):
        if name not in self.headers:
            return iter(())
        index = self.headers.index(name)
        if self.data is not None:
            return (r[index] if index < len(r) else None for r in self.data)
        reader = csv.reader(io.StringIO(self.text))
        next(reader, None)  # the header line
        return (r[index] if index < len(r) else None for r in reader if r)
