"""Counterparts of what issues and checks credentials: a verifying WebSocket server per
credential mode, the OAuth2 token endpoint, the private CA for mutual TLS."""
