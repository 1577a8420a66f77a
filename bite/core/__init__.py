"""The pure strategy core: values in, decisions out. No I/O, no clock, no randomness."""
