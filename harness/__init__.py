"""react-harness: train, serve and evaluate small ReAct agents on ALFWorld-style tasks."""

__version__ = "0.1.0"
