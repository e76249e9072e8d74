"""Billing's rules, free of I/O: order states, ledger entries, subscription periods."""
