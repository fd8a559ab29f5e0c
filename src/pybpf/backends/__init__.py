"""Backends that turn an object spec into loaded maps and programs (the VM and the kernel)."""
