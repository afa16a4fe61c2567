"""The platforms connected to the hub, their roles (parties), tokens and endpoints."""
