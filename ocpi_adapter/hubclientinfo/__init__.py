"""The hubclientinfo module: the connection status of every party, pushed and listed."""
