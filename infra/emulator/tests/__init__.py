"""The emulator's tests: `make unit` runs them (unittest discovery from infra/)."""
