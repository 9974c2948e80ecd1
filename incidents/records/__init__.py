"""The incident record: model, validation, JSON shapes, tables, store and use cases."""
