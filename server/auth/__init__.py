"""Authentication and authorisation: password hashes, tokens, roles, and the login rate limit."""
