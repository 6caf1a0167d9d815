"""The reconciliation: what a member file holds and what was (or, in a dry run, would be) written,
with every bad row's errors."""

from dataclasses import dataclass, field
from decimal import Decimal

from django.utils.translation import gettext as _

from .parse import Row


@dataclass
class Figures:
    rows: int = 0
    members: int = 0
    cards: int = 0
    points: int = 0
    sv_principal: Decimal = Decimal("0.00")
    sv_bonus: Decimal = Decimal("0.00")

    def add_row(self, row: Row) -> None:
        self.cards += len(row.cards)
        self.points += row.points
        self.sv_principal += row.sv_principal
        self.sv_bonus += row.sv_bonus


@dataclass
class Result:
    """The reconciliation: what the file holds and what was (or, in a dry run, would be) written."""

    dry_run: bool = False
    skip_bad_rows: bool = False
    in_file: Figures = field(default_factory=Figures)
    written: Figures = field(default_factory=Figures)
    errors: list = field(default_factory=list)  # (row number, column, message)
    base_errors: list = field(default_factory=list)
    rolled_back: bool = False

    @property
    def bad_rows(self) -> int:
        return len({number for number, _column, _message in self.errors})

    @property
    def committed(self) -> bool:
        return not self.dry_run and not self.rolled_back

    def table(self) -> list[tuple[str, str, str]]:
        f, w = self.in_file, self.written
        return [
            (_("rows read"), str(f.rows), str(w.rows)),
            (_("rows with errors"), str(self.bad_rows), ""),
            (_("members"), str(f.members), str(w.members)),
            (_("cards"), str(f.cards), str(w.cards)),
            (_("points"), str(f.points), str(w.points)),
            (_("stored value principal"), f"{f.sv_principal:.2f}", f"{w.sv_principal:.2f}"),
            (_("stored value bonus"), f"{f.sv_bonus:.2f}", f"{w.sv_bonus:.2f}"),
        ]

    def as_dict(self) -> dict:
        return {
            "dry_run": self.dry_run,
            "skip_bad_rows": self.skip_bad_rows,
            "rolled_back": self.rolled_back,
            "table": self.table(),
            "errors": [list(e) for e in self.errors[:1000]],
            "error_count": len(self.errors),
            "bad_rows": self.bad_rows,
            "base_errors": [str(e) for e in self.base_errors],
        }
