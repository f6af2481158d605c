"""Importers: CSV and JSON Lines files into the store, atomic and idempotent."""

from kizuna.services.imports.fields import ParseContext
from kizuna.services.imports.runner import ImportSummary, import_file
from kizuna.services.imports.specs import ENTITIES, EntitySpec, entity

__all__ = ["ENTITIES", "EntitySpec", "ImportSummary", "ParseContext", "entity", "import_file"]
