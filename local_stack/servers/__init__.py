"""WebSocket servers that imitate real kinds of endpoints, for the tests and the demo."""
