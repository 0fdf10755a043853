"""One module per scenario; each returns its rows for the results file."""
