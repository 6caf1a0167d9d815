from django.core.management.base import BaseCommand, CommandError

from membership.ledger import discrepancies
from membership.models import Member


class Command(BaseCommand):
    help = (
        "Prove that every member's cached points and stored-value balances equal the sums of their "
        "ledgers and lots. Exits non-zero on any discrepancy."
    )

    def handle(self, *args, **options):
        found = discrepancies()
        for d in found:
            self.stderr.write(str(d))
        if found:
            raise CommandError(f"{len(found)} discrepancies")
        self.stdout.write(self.style.SUCCESS(f"Ledger OK: {Member.objects.count()} members balance."))
