#!/usr/bin/env python3
"""PyTorch peer of `npm run bench`: the same LeNet and MLP as ours, timed on a plain SGD step and on an
L2RW step written the way PyTorch users write it (Ren et al. 2018, Algorithm 1, by double backprop).

Models (as src/train/models.ts builds them for the bench, see bench/steps.ts and bench/peers/tfjs.ts):
  lenet: Caffe's MNIST LeNet, 1x28x28 -> conv 5x5 20 -> max-pool 2 -> conv 5x5 50 -> max-pool 2 ->
         dense 800->500 -> ReLU -> dense 500->2 (the paper's 4-vs-9 task: 2 classes; no ReLU after the
         convolutions, as Caffe's)
  mlp:   784 -> dense 256 -> ReLU -> dense 256->10
Batch 100, mean softmax cross-entropy, SGD lr 0.01, momentum 0.9, no weight decay (torch.optim.SGD:
v <- mu v + g, w <- w - lr v, as ours and tf.train.momentum). The L2RW step's clean batch is 10
examples (bench/steps.ts: valBatch 10). The training set (5000 examples) and the clean set stay on the
device; each minibatch is gathered there by an index tensor. The pixels are seeded synthetic bytes
(80 % zeros, as bench/data.ts's synthetic data): PyTorch's dense kernels do not depend on them.

The L2RW step: per-example losses weighted by eps = 0 (requires grad), torch.autograd.grad with
create_graph=True, a functional virtual SGD step (a hand-written functional forward of the same net,
which works on torch 1.13 without torch.func), the clean batch's mean loss at the virtual parameters,
its gradient with respect to eps, w = max(-grad, 0), normalised by its sum (all zero when the sum is
zero, without a host sync), then the real step on the w-weighted loss through the optimiser.

Modes:
  (default)  time each model: warmup, then `--blocks` alternating blocks of `--steps` plain and L2RW
             steps; print a summary, or with --json one JSON object (medians of the blocks' ms per step,
             wall and process CPU, and the blocks themselves).
  --check    one L2RW step on a fixed batch; print its example weights as JSON.
  --serve    read JSON commands on stdin, one a line, answer each with one JSON line (bench/peers/pytorch.ts
             alternates these blocks with blocks of ours):
               {"cmd": "init", "model": "mlp"}             -> {"ok": true}
               {"cmd": "block", "model": "mlp", "method": "plain"|"l2rw", "steps": 4}
                                                          -> {"ms": .., "cpu_ms": ..}
               {"cmd": "quit"}
"""
import argparse
import json
import os
import platform
import statistics
import sys
import time

import torch
import torch.nn.functional as F

BATCH = 100
CLEAN = 10
TRAIN_N = 5000
LR = 0.01
MOMENTUM = 0.9
WEIGHT_DECAY = 0.0
CLASSES = {"lenet": 2, "mlp": 10}


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def synthetic(n, classes, gen):
    """Bytes like bench/data.ts's synthetic set (80 % zeros), scaled to [0, 1], and labels."""
    keep = torch.rand(n, 784, generator=gen) >= 0.8
    x = torch.where(keep, torch.randint(0, 256, (n, 784), generator=gen).float(), torch.zeros(()))
    y = torch.randint(0, classes, (n,), generator=gen)
    return x / 255.0, y


def init_params(kind, device, gen):
    def w(shape, fan_in, gain=2.0):
        return (torch.randn(*shape, generator=gen) * (gain / fan_in) ** 0.5).to(device).requires_grad_()

    def z(n):
        return torch.zeros(n, device=device, requires_grad=True)

    k = CLASSES[kind]
    if kind == "mlp":
        return [w((256, 784), 784), z(256), w((k, 256), 256, 1.0), z(k)]
    return [
        w((20, 1, 5, 5), 25), z(20),
        w((50, 20, 5, 5), 500), z(50),
        w((500, 800), 800), z(500),
        w((k, 500), 500, 1.0), z(k),
    ]


def forward(kind, p, x):
    """The net as a function of its parameter list (works on the real and the virtual parameters)."""
    if kind == "mlp":
        return F.linear(F.relu(F.linear(x, p[0], p[1])), p[2], p[3])
    h = x.view(-1, 1, 28, 28)
    h = F.max_pool2d(F.conv2d(h, p[0], p[1]), 2)
    h = F.max_pool2d(F.conv2d(h, p[2], p[3]), 2)
    h = F.relu(F.linear(h.flatten(1), p[4], p[5]))
    return F.linear(h, p[6], p[7])


class Trainer:
    def __init__(self, kind, device, seed=3):
        self.kind = kind
        self.device = device
        gen = torch.Generator().manual_seed(seed)
        k = CLASSES[kind]
        x, y = synthetic(TRAIN_N, k, gen)
        xv, yv = synthetic(CLEAN, k, gen)
        self.x, self.y = x.to(device), y.to(device)
        self.xv, self.yv = xv.to(device), yv.to(device)
        self.params = init_params(kind, device, gen)
        self.opt = torch.optim.SGD(self.params, lr=LR, momentum=MOMENTUM, weight_decay=WEIGHT_DECAY)
        self.order = torch.arange(TRAIN_N, device=device)
        self.cursor = 0

    def batch(self):
        if self.cursor + BATCH > TRAIN_N:
            self.cursor = 0
        idx = self.order[self.cursor:self.cursor + BATCH]
        self.cursor += BATCH
        return self.x.index_select(0, idx), self.y.index_select(0, idx)

    def plain_step(self):
        x, y = self.batch()
        self.opt.zero_grad(set_to_none=True)
        F.cross_entropy(forward(self.kind, self.params, x), y).backward()
        self.opt.step()

    def l2rw_weights(self, x, y):
        """Algorithm 1, lines 4-11: the example weights of this batch."""
        eps = torch.zeros(x.shape[0], device=self.device, requires_grad=True)
        losses = F.cross_entropy(forward(self.kind, self.params, x), y, reduction="none")
        grads = torch.autograd.grad((eps * losses).sum(), self.params, create_graph=True)
        virtual = [p - LR * g for p, g in zip(self.params, grads)]
        clean_loss = F.cross_entropy(forward(self.kind, virtual, self.xv), self.yv)
        (grad_eps,) = torch.autograd.grad(clean_loss, eps)
        w = torch.clamp(-grad_eps, min=0)
        total = w.sum()
        # Divide by the sum, or by 1 where it is 0 (all weights zero): no host sync.
        return (w / (total + (total == 0).to(w.dtype))).detach()

    def l2rw_step(self):
        x, y = self.batch()
        w = self.l2rw_weights(x, y)
        self.opt.zero_grad(set_to_none=True)
        losses = F.cross_entropy(forward(self.kind, self.params, x), y, reduction="none")
        (w * losses).sum().backward()
        self.opt.step()

    def sync(self):
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def block(self, method, steps):
        step = self.plain_step if method == "plain" else self.l2rw_step
        self.sync()
        c0 = time.process_time()
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        self.sync()
        ms = (time.perf_counter() - t0) * 1000 / max(1, steps)
        cpu = (time.process_time() - c0) * 1000 / max(1, steps)
        return {"ms": ms, "cpu_ms": cpu}


def setup(args):
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("torch.cuda.is_available() is False")
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else cpu_name()
    return device, name


def header(args, name):
    return {
        "torch": torch.__version__,
        "python": platform.python_version(),
        "device": args.device,
        "device_name": name,
        "threads": torch.get_num_threads(),
        "batch": BATCH,
        "clean": CLEAN,
        "data": "synthetic",
    }


def run_timing(args, device, name):
    out = header(args, name)
    out.update({"warmup": args.warmup, "steps": args.steps, "blocks": args.blocks, "models": {}})
    for kind in args.models:
        t = Trainer(kind, device)
        t.block("plain", args.warmup)
        t.block("l2rw", args.warmup)
        plain, l2rw = [], []
        for _ in range(args.blocks):
            plain.append(t.block("plain", args.steps))
            l2rw.append(t.block("l2rw", args.steps))
        med = lambda xs, k: statistics.median(b[k] for b in xs)
        r = {
            "plain_ms": med(plain, "ms"),
            "l2rw_ms": med(l2rw, "ms"),
            "plain_cpu_ms": med(plain, "cpu_ms"),
            "l2rw_cpu_ms": med(l2rw, "cpu_ms"),
            "plain_samples": plain,
            "l2rw_samples": l2rw,
        }
        r["l2rw_over_plain"] = r["l2rw_ms"] / r["plain_ms"]
        out["models"][kind] = r
    return out


def run_check(args, device, name):
    out = header(args, name)
    out["models"] = {}
    for kind in args.models:
        t = Trainer(kind, device)
        x, y = t.batch()
        w = t.l2rw_weights(x, y)
        out["models"][kind] = {"weights": w.cpu().tolist(), "weights_sum": float(w.sum())}
    return out


def serve(args, device, name):
    trainers = {}
    print(json.dumps(header(args, name)), flush=True)
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        try:
            c = json.loads(line)
            if c.get("cmd") == "quit":
                break
            kind = c["model"]
            if kind not in CLASSES:
                raise ValueError(f"unknown model {kind!r}")
            if kind not in trainers:
                trainers[kind] = Trainer(kind, device)
            if c["cmd"] == "init":
                reply = {"ok": True}
            elif c["cmd"] == "block":
                reply = trainers[kind].block(c["method"], int(c["steps"]))
            else:
                raise ValueError(f"unknown command {c.get('cmd')!r}")
        except Exception as e:  # the client reports it and goes on
            reply = {"error": f"{type(e).__name__}: {e}"}
        print(json.dumps(reply), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    ap.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (default 2)")
    ap.add_argument("--models", default="lenet,mlp")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--steps", type=int, default=10, help="steps per timed block")
    ap.add_argument("--blocks", type=int, default=3, help="timed blocks per method")
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of the summary lines")
    ap.add_argument("--check", action="store_true", help="print the L2RW weights of one step on a fixed batch")
    ap.add_argument("--serve", action="store_true", help="answer block commands on stdin (bench/peers/pytorch.ts)")
    args = ap.parse_args()
    args.models = [m.strip() for m in args.models.split(",") if m.strip()]
    for m in args.models:
        if m not in CLASSES:
            ap.error(f"unknown model {m!r} (expected lenet, mlp)")
    torch.manual_seed(0)
    device, name = setup(args)
    if args.serve:
        serve(args, device, name)
        return
    out = run_check(args, device, name) if args.check else run_timing(args, device, name)
    if args.json or args.check:
        print(json.dumps(out))
        return
    print(f"torch {out['torch']} on {out['device_name']} ({args.device}, {out['threads']} threads), batch {BATCH}, clean {CLEAN}")
    for kind, r in out["models"].items():
        print(f"  {kind:6} plain {r['plain_ms']:8.2f} ms (cpu {r['plain_cpu_ms']:.2f})   L2RW {r['l2rw_ms']:8.2f} ms (cpu {r['l2rw_cpu_ms']:.2f})   L2RW/plain {r['l2rw_over_plain']:.2f}")


if __name__ == "__main__":
    main()
