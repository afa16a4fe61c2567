"""The credentials module: registration, update and unregistration, as Receiver and Sender."""
