"""The REST API's request and response bodies (pydantic): per resource ``XCreate``,
``XUpdate`` (every field optional: a partial update) and ``XOut``."""
