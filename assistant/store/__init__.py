"""The vector store: its interface, what both backends share, the Qdrant Edge and Qdrant server
adapters, the factory that picks one, and store maintenance (migrate, back up, restore, upgrade)."""
