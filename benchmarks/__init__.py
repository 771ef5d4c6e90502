"""Side-by-side performance comparisons; run with `make bench`, not part of the tests."""
