"""Sessions context: charging sessions, the tokens that start them, and the commands sent."""
