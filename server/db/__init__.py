"""The database: tables (`tables`), column types (`types`), connections and migrations (`connect`)."""
