"""Writing outputs safely: all or nothing (atomic), and around the page cache (uncached)."""
