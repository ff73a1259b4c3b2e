"""Data on the device and the one training loop (children, final training, transfer workers)."""
