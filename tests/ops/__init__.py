"""Operations: container, backups, health, metrics, logs."""
