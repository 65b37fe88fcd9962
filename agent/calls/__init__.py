"""One call: the pipeline that answers it, its lifecycle, and what it measured."""
