"""Differential tests: the pybpf VM against the real kernel (BPF_PROG_TEST_RUN).

``generators``: hypothesis strategies for random programs the verifier accepts.
``harness``: run one program in both and compare (failures show the program).
``test_diff_insns``: the random differential runs (1200 programs by default;
``PYBPF_DIFF_EXAMPLES=20000 pytest tests/differential`` hunts harder).
``test_diff_semantics``: hand-picked corner cases with their RFC 9669 values.
"""
