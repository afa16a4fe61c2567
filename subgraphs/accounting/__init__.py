"""Accounting context: CDRs as their CPOs issued them, and the tamper-evident ledger."""
