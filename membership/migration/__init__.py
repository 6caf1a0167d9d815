"""Go-live migration: members from a previous system with their balances, lots, cards and tiers
(issue 13). One importer serves the `import_members` command, the background import job and the
admin's row-by-row import; see importer.py for the rules."""

from .cells import phone_or_blank
from .columns import BATCH_ROWS, COLUMNS
from .export import export_rows
from .importer import Importer, import_file
from .jobs import run_job, stale_jobs
from .parse import RowInvalid
from .result import Result

__all__ = [
    "BATCH_ROWS",
    "COLUMNS",
    "Importer",
    "Result",
    "RowInvalid",
    "export_rows",
    "import_file",
    "phone_or_blank",
    "run_job",
    "stale_jobs",
]
