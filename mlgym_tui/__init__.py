"""mlgym-tui: watch, steer, debug and compare AI research agents on MLGym tasks."""

__version__ = "0.1.0"
