"""The replay: a recorded run stepped through with the live episode's panes (screen.py), its cursor, filter and
search (cursor.py), reading (loader.py), follow mode (follow.py), status text (status.py), dialogs and forks."""
