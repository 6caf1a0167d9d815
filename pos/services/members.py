"""What the till keeps about a member, when the desk merges two accounts (called through
membership.hooks inside the merge transaction)."""

from ..models import Sale


def move(source, target) -> None:
    """Merge: the source's sales become the target's (their purchases moved with membership's ledgers)."""
    Sale.objects.filter(member=source).update(member=target)
