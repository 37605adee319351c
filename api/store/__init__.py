"""State that is not configuration, kept in SQLite in the data dir: the activity records and their writer."""
