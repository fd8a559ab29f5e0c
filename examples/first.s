# Sum 1..10 in a loop: the first program of the pybpf README.
    r0 = 0
    r1 = 10
loop:
    r0 += r1
    r1 -= 1
    if r1 != 0 goto loop
    exit
