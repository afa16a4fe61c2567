"""The tamper-evident CDR ledger: each CDR the hub accepts as a signed BigchainDB CREATE
transaction, appended once to an RFC 9162 Merkle tree whose heads the hub signs as C2SP
checkpoints."""
