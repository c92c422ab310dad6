"""A step-level model of our scheduler under bench/serving.sh's workload (not a measurement).

FCFS, chunked prefill (256), mixed chunks, a running cap; step time = 11.2 ms + 2.5 ms per prompt
token + 3.9 ms per decode, from bench/RESULTS.md's quiet-machine figures of 2026-12-01 for the default
model on 2 threads. Used to size the CPU default of --max-running-requests while the shared
machine was too loaded to measure (python3 bench/serving_model.py).
"""
import sys, statistics
A, CD, CP = 0.0112, 0.0039, 0.0025
def run(rate, cap, chunk=256, n=32, inp=256, out=64):
    arr = [i / rate if rate != float('inf') else 0.0 for i in range(n)]
    t = 0.0; waiting = list(range(n)); running = {}  # id -> [prefilled, generated]
    tok_times = {i: [] for i in range(n)}
    while waiting or running:
        ready = [i for i in waiting if arr[i] <= t]
        if not running and not ready:
            t = min(arr[i] for i in waiting); continue
        decodes = [i for i, (p, g) in running.items() if p == inp]
        budget = max(1, chunk - len(decodes))
        pre = []
        for i, st in running.items():
            if st[0] < inp and budget > 0:
                c = min(inp - st[0], budget); pre.append((i, c)); budget -= c
        while budget > 0 and ready and len(running) < cap:
            i = ready.pop(0); waiting.remove(i); running[i] = [0, 0]
            c = min(inp, budget); pre.append((i, c)); budget -= c
        ptoks = sum(c for _, c in pre)
        dt = A + CP * ptoks + CD * len(decodes)
        t += dt
        for i in decodes:
            running[i][1] += 1; tok_times[i].append(t)
        for i, c in pre:
            running[i][0] += c
            if running[i][0] == inp:
                running[i][1] += 1; tok_times[i].append(t)
        for i in [i for i, (p, g) in running.items() if g >= out]:
            del running[i]
    ttft = [tok_times[i][0] - arr[i] for i in range(n)]
    itl = [b - a for i in range(n) for a, b in zip(tok_times[i], tok_times[i][1:])]
    q = lambda xs, p: sorted(xs)[min(len(xs) - 1, int(p * len(xs)))]
    dur = max(tok_times[i][-1] for i in range(n)) - min(arr)
    return n * out / dur, statistics.median(ttft), q(ttft, .99), statistics.median(itl), q(itl, .99)
print("| rate | cap | out tok/s | TTFT med / P99 s | ITL med / P99 ms |")
for rate in (1, 2, 4, float('inf')):
    for cap in (4096, 16, 12, 8):
        o, tm, tp, im, ip = run(rate, cap)
        print(f"| {rate} | {cap} | {o:.1f} | {tm:.1f} / {tp:.1f} | {im*1e3:.0f} / {ip*1e3:.0f} |")
