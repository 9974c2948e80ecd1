"""The `sentinelle` command and its sub-commands."""
