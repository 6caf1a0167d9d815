"""The write side of membership: the only code that changes members, cards and balances.

One module per concern; plain functions with keyword-only arguments, one transaction each."""
