"""Message routing (transport_and_format, Message Routing): one pipeline for every module.

Steps, each its own module: ``operations`` (what a module declares), ``request`` (the parsed
request as one value), ``checks`` (sender, body, ownership), ``recipient`` (where it goes),
``rewrite`` (hub URLs in place of peers' URLs), ``forward`` (how it is sent and relayed),
``broadcast`` and ``getall`` (requests the hub answers itself), ``handler`` (the order).
"""
