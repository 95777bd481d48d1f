"""The audit log of administrator access, and alerts on administrator sign-ins."""
