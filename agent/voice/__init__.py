"""Speaking to the caller: the stock voice, the cloned voice and the text chunker."""
