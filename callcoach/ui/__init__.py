"""The web app's pieces: shared resources, one module per tab, and the look. See app.py."""
