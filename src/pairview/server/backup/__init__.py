"""Backups of the server's database: create, list, restore and prune.

SQLite databases are copied with SQLite's online backup API, PostgreSQL
databases dumped with pg_dump in its custom format. Backups live in one
directory that only its owner can read, named by the UTC time they were
taken. They are deleted once older than the backup retention (15 days by
default), so that an account deleted since can no longer come back
through a restore.
"""
