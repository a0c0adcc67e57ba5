"""Serve the callcoach web app: ``python app.py --help`` (the code is in ``callcoach/serve.py``)."""

from callcoach.serve import main

if __name__ == "__main__":
    main()
