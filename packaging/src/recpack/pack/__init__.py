"""Packing lists into .rec + .idx (a pool of forked workers), and reading packed files back."""
