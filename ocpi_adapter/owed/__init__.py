"""What the hub owes its parties after acknowledging a request, kept as rows until it is sent.

Each broadcast copy and each ClientInfo push is written in the transaction of the change it
carries (``record``), sent from there in order per receiver and object (``sender``); a copy
that fails marks its receiver out of sync, and the receiver is cued to GET what it missed
(``resync``). The rules are in docs/policies.md ("Owed copies and resynchronisation").
"""
