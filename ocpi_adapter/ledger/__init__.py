"""The CDR ledger as the hub shows it to parties: headers beside CDRs, consistency proofs."""
