"""Accounts: sign-up and sign-in, sessions, external identities, contacts and invitations."""
