"""A Twilio phone receptionist: streaming speech in, an LLM with real actions, the business's voice out."""

__version__ = "0.1.0"
