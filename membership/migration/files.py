"""A CSV or XLSX member file, read as it is imported."""

from core.spreadsheets import csv_rows, decode_table, read_xlsx

from .cells import as_text


class MemberFile:
    """A CSV or XLSX member file, read as many times as needed: `rows()` gives its rows as dicts keyed by
    column, `column(name)` one column's cells (a first pass for the phones, without making a dict of
    every row). A CSV file's characters are read by core.spreadsheets.decode_table (UTF-8, UTF-16 by
    its BOM, GB18030), a workbook's formulas as their saved results (or `Formula`, an error of its
    cell). A file that is no table raises core.spreadsheets.UnreadableFile, here or while its rows
    are read (a CSV line the csv module cannot read)."""

    def __init__(self, fileobj, name: str = "members.csv"):
        self.data = self.text = None
        raw = fileobj.read()
        if name.lower().endswith(".xlsx"):
            headers, self.data = read_xlsx(raw)
            self.headers = [as_text(h) for h in headers]
            self.total = len(self.data)
            return
        self.text = decode_table(raw)
        self.total = max(0, sum(1 for line in self.text.splitlines() if line.strip()) - 1)
        self.headers = [h.strip() for h in next(csv_rows(self.text), [])]

    def _data_rows(self):
        if self.data is not None:
            return iter(self.data)
        rows = csv_rows(self.text)
        next(rows, None)  # the header line
        return rows

    def rows(self):
        headers = self.headers
        return (dict(zip(headers, r)) for r in self._data_rows())

    def column(self, name: str):
        if name not in self.headers:
            return iter(())
        index = self.headers.index(name)
        return (r[index] if index < len(r) else None for r in self._data_rows())
