"""Backups of the server's database: create, list, restore and prune.

SQLite databases are copied with SQLite's online backup API, PostgreSQL
databases dumped with pg_dump in its custom format. Backups live in one
directory readable by its owner only, named by the UTC time they were
taken, and are deleted once older than the backup retention (15 days by
default): after that, an account deleted since can no longer come back
through a restore.
"""
