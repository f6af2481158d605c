"""Plain Python: enums, value objects and rules. No storage, web or settings imports."""
