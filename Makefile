# Top-level convenience targets for pybpf.

.PHONY: fixtures
# Rebuild the committed BPF test fixtures (tests/bpf/*.bpf.c -> *.v{1,3,4}.o).
fixtures:
	$(MAKE) -C tests/bpf
