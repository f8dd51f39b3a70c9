#!/usr/bin/env python3
"""Concurrent sampling requests on one model: requests/s with one sampling worker (jobs one at a time, as a
service without shared evaluations runs them) against the default four, whose jobs batch their network
evaluations of the same model (SharedEvaluations). A benchmark, not a test (docs/benchmarks.md).

    bench/shared_sampling.py [--clients 16] [--rounds 3] [--repeats 3]

Starts `scored serve` (SQLite, default settings but the sampling workers) on a fresh data directory, trains a
2-D model (swiss roll, the default MLP, 200 steps) and an MNIST U-Net (20 steps: the weights do not matter to
the time an evaluation takes), then has C clients each send R blocking `GET /samples` one after the other:
4 digits (ddim, 20 steps) or 100 points (dpm_solver, 20 steps). Requests/s is C·R over the wall time; the
batch size is the pool's requests per evaluation over the run (from /metrics). Medians of the repeats, with
their range; the single-request latency (one client) beside them.
"""
import argparse, json, os, shutil, signal, socket, statistics, subprocess, tempfile, threading, time, urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, ".build", "release", "scored")


def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p


def http(method, url, body=None, timeout=600):
    req = urllib.request.Request(url, method=method, data=body.encode() if body else None,
                                 headers={"Content-Type": "application/json"} if body else {})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return r.status, r.read()


def metric(base, name):
    _, text = http("GET", base + "/metrics")
    for line in text.decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return 0.0


class Server:
    def __init__(self, workers):
        self.dir = tempfile.mkdtemp(prefix="scored-bench-")
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ, SCORED_CONFIG=os.path.join(ROOT, "config/default.json"), SCORED_WORKERS_SAMPLE=str(workers),
                   SCORED_LOG_LEVEL="warning", SCORED_MAX_QUEUED_JOBS="10000")
        self.p = subprocess.Popen([BIN, "serve", "--port", str(self.port), "--data-dir", self.dir,
                                   "--public-dir", os.path.join(ROOT, "public")], env=env, cwd=ROOT,
                                  stdout=subprocess.DEVNULL, stderr=open(os.path.join(tempfile.gettempdir(), f"shared-sampling-{workers}.log"), "w"))
        for _ in range(300):
            try:
                http("GET", self.base + "/healthz"); break
            except Exception: time.sleep(0.1)

    def train(self, body):
        _, raw = http("POST", self.base + "/train", json.dumps(body))
        job = json.loads(raw)["id"]
        while True:
            _, raw = http("GET", f"{self.base}/jobs/{job}")
            j = json.loads(raw)
            if j["status"] == "succeeded": return j["result"]["model_id"]
            if j["status"] in ("failed", "canceled"): raise RuntimeError(j)
            time.sleep(0.2)

    def stop(self):
        self.p.send_signal(signal.SIGTERM)
        try: self.p.wait(30)
        except subprocess.TimeoutExpired: self.p.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


def load(base, query, clients, rounds):
    """Wall time for `clients` threads each sending `rounds` requests one after the other, and the pool's mean batch."""
    batches0, requests0 = metric(base, "scored_sample_evaluations_total"), metric(base, "scored_sample_evaluation_requests_total")
    errors = []

    def client(k):
        for r in range(rounds):
            try:
                status, _ = http("GET", f"{base}/samples?{query}&seed={k * rounds + r}")
                if status != 200: errors.append(status)
            except Exception as e:
                errors.append(str(e))

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    start = time.perf_counter()
    for t in threads: t.start()
    for t in threads: t.join()
    wall = time.perf_counter() - start
    if errors: raise RuntimeError(f"{len(errors)} failed requests: {errors[:3]}")
    batches = metric(base, "scored_sample_evaluations_total") - batches0
    requests = metric(base, "scored_sample_evaluation_requests_total") - requests0
    return wall, (requests / batches if batches else 0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--workers", default="1,4")
    ap.add_argument("--points", default="sampler=dpm_solver&steps=20&n=100&format=json")
    ap.add_argument("--images", default="sampler=ddim&steps=20&n=4&format=pgm")
    a = ap.parse_args()
    workloads = [("points", a.points), ("images", a.images)]
    results = {}
    for workers in [int(w) for w in a.workers.split(",")]:
        s = Server(workers)
        try:
            models = {"points": s.train({"dataset": "swiss_roll", "steps": 200}),
                      "images": s.train({"dataset": "mnist", "steps": 20})}
            for name, q in workloads:
                query = f"model={models[name]}&{q}"
                load(s.base, query, 2, 1)  # warm: the model loaded, the allocator's pages faulted in
                single = statistics.median(load(s.base, query, 1, 5)[0] / 5 for _ in range(a.repeats))
                runs = [load(s.base, query, a.clients, a.rounds) for _ in range(a.repeats)]
                rates = [a.clients * a.rounds / w for w, _ in runs]
                results[(name, workers)] = (rates, statistics.median(b for _, b in runs), single)
                print(f"{name}, workers.sample {workers}: {statistics.median(rates):.1f} req/s "
                      f"({min(rates):.1f}–{max(rates):.1f}), {statistics.median(b for _, b in runs):.2f} requests per evaluation, "
                      f"one request alone {single * 1000:.0f} ms", flush=True)
        finally:
            s.stop()
    ws = sorted({w for _, w in results})
    if len(ws) < 2: return
    lo, hi = ws[0], ws[-1]
    print()
    print(f"| workload ({a.clients} clients × {a.rounds} requests) | {lo} sampling worker(s): req/s | {hi}, shared evaluations: req/s "
          f"| requests per evaluation | ratio | one request alone ({lo} / {hi}) |")
    print("|---|---|---|---|---|---|")
    for name, q in workloads:
        r1, _, s1 = results[(name, lo)]
        r4, b4, s4 = results[(name, hi)]
        m1, m4 = statistics.median(r1), statistics.median(r4)
        print(f"| {name}: `{q}` | {m1:.1f} ({min(r1):.1f}–{max(r1):.1f}) | {m4:.1f} ({min(r4):.1f}–{max(r4):.1f}) "
              f"| {b4:.2f} | {m4 / m1:.2f}× | {s1 * 1000:.0f} / {s4 * 1000:.0f} ms |")

if __name__ == "__main__":
    main()
