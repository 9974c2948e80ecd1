"""The transactional outbox: alerts and deliveries written with the change that caused them."""
