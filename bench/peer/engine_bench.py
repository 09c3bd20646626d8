"""PyTorch side of `npm run bench -- engine`: the same cases as bench/engine.ts, same
shapes, same seeds, same thread count. Prints one JSON object per case:
{"case", "unit", "value"} where value is a median time. Benchmark fixture only."""
import json
import statistics
import sys
import time

import torch


def median_time(fn, reps, trials):
    fn()  # warm-up
    samples = []
    for _ in range(trials):
        t0 = time.perf_counter()
        for _ in range(reps):
            fn()
        samples.append((time.perf_counter() - t0) / reps)
    return statistics.median(samples)


def main():
    threads = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    torch.set_num_threads(threads)
    out = []

    for n, reps in ((1024, 10), (2048, 3)):
        g = torch.Generator().manual_seed(n)
        a = torch.randn(n, n, generator=g)
        b = torch.randn(n, n, generator=g)
        with torch.no_grad():
            t = median_time(lambda: torch.matmul(a, b), reps, 7)
        out.append({"case": f"matmul_{n}", "unit": "ms", "value": t * 1e3})

    g = torch.Generator().manual_seed(1)
    x0 = torch.randn(16, generator=g)
    y = torch.randn(16, generator=g)

    def chain():
        x = x0
        for _ in range(250):
            x = x + y
            x = x * 0.5
            x = x - y
            x = torch.tanh(x)
        return x

    t = median_time(chain, 5, 9)
    out.append({"case": "op_overhead", "unit": "us/op", "value": t / 1000 * 1e6})

    g = torch.Generator().manual_seed(2)
    width, batch = 512, 64
    ws = [(torch.randn(width, width, generator=g) * 0.04).requires_grad_() for _ in range(3)]
    bs = [torch.zeros(width, requires_grad=True) for _ in range(3)]
    xin = torch.randn(batch, width, generator=g)
    target = torch.randn(batch, width, generator=g)
    opt = torch.optim.AdamW(ws + bs, lr=1e-3, weight_decay=0.01)

    def train_step():
        opt.zero_grad(set_to_none=True)
        h = torch.relu(torch.nn.functional.linear(xin, ws[0], bs[0]))
        h = torch.relu(torch.nn.functional.linear(h, ws[1], bs[1]))
        o = torch.nn.functional.linear(h, ws[2], bs[2])
        loss = (o - target).pow(2).mean()
        loss.backward()
        opt.step()

    t = median_time(train_step, 20, 7)
    out.append({"case": "mlp_train_step", "unit": "ms", "value": t * 1e3})

    for line in out:
        print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
