"""LocalDocs: collections of local documents indexed, searched, and given to every model as context."""
