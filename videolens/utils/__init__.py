"""Small shared helpers: atomic files, input expansion, progress bars, device choice."""
