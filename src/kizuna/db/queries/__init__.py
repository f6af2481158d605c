"""Read and write queries the services call (the services never import SQLAlchemy)."""
