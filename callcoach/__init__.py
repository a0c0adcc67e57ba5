"""callcoach: the product layer (coaching, call history, the web app and the command line)."""
