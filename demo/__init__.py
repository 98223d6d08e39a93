"""The whole workshop pipeline on a local AWS emulator: `make demo`, and the flow tests/e2e/ asserts on."""
