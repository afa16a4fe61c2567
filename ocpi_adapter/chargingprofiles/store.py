"""Charging profiles pass through the hub without being stored (yet): the graph has no use
for them so far, and their results are relayed as they are."""
