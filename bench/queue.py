#!/usr/bin/env python3
"""The job queue on PostgreSQL: jobs claimed per second with 1, 2 and 4 worker processes, and the latency from
submit to start. A benchmark, not a test (docs/benchmarks.md).

    bench/queue.py [--jobs 400] [--latency-jobs 60] [--repeats 3]

Starts a throwaway PostgreSQL cluster (scripts/postgres), an API node (no sampling workers) and W worker nodes
(`scored worker`, one sampling worker and one compute thread each), all with their own data directories.
Short jobs: sampling 1 point of a small 2-D model with 4 Euler steps. Throughput: the N jobs are queued first,
then the workers start; jobs claimed per second is N over the span of their claim times (`started_at`, the
worker's clock at its claim), so process start-up does not count. Latency: with the workers idle, jobs submitted
one at a time; submit → start is `started_at − created_at` (the API node's clock at the insert; one machine, one
clock). The same for one `scored serve` on SQLite (its one sampling worker) as the baseline. Medians of the
repeats, with their range.
"""
import argparse, json, os, shutil, signal, socket, statistics, subprocess, sys, tempfile, time, urllib.request, re

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, ".build", "release", "scored")


def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p


def http(method, url, body=None):
    req = urllib.request.Request(url, method=method, data=body.encode() if body else None,
                                 headers={"Content-Type": "application/json"} if body else {})
    with urllib.request.urlopen(req, timeout=60) as r:
        return r.status, json.loads(r.read() or b"null")


def psql(url, sql):
    out = subprocess.run(["psql", "-Atq", url, "-c", sql], check=True, capture_output=True, text=True).stdout
    return [line.split("|") for line in out.strip().splitlines() if line]


class Node:
    def __init__(self, args, env, data):
        self.port = free_port()
        e = dict(os.environ, SCORED_CONFIG=os.path.join(ROOT, "config/default.json"), SCORED_MAX_QUEUED_JOBS="100000",
                 SCORED_THREADS_SAMPLE="1", SCORED_LOG_LEVEL="warning", **env)
        self.log = open(os.path.join(data, "log.txt"), "w")
        self.p = subprocess.Popen([BIN] + args + ["--data-dir", data], env=e, stdout=subprocess.DEVNULL, stderr=self.log, cwd=ROOT)

    def serve_args(port):
        return ["serve", "--port", str(port), "--public-dir", os.path.join(ROOT, "public")]

    def stop(self):
        self.p.send_signal(signal.SIGTERM)
        try: self.p.wait(30)
        except subprocess.TimeoutExpired: self.p.kill()


def wait_http(base):
    for _ in range(300):
        try:
            http("GET", base + "/healthz"); return
        except Exception: time.sleep(0.1)
    raise RuntimeError("no answer from " + base)


def wait_jobs(count_done, n, timeout=600):
    t0 = time.time()
    while count_done() < n:
        if time.time() - t0 > timeout: raise RuntimeError("jobs did not finish")
        time.sleep(0.05)


def submit(base, model, i):
    s, j = http("GET", f"{base}/samples?model={model}&n=1&seed={i}&sampler=euler&steps=4&wait=false")
    assert s == 202, j
    return j["id"]


def run_postgres(pg_url, workers, n, latency_jobs, tmp):
    db = f"bq_{workers}_{int(time.time() * 1000) % 10**9}"
    psql(pg_url, f"CREATE DATABASE {db}")
    url = re.sub(r"/[^/]*$", "/" + db, pg_url)
    env = {"SCORED_STORE": url}
    nodes = []
    try:
        d = tempfile.mkdtemp(dir=tmp); port = free_port()
        api = Node(Node.serve_args(port) + ["--workers-train", "1", "--workers-sample", "0"], dict(env, SCORED_NODE_NAME="api"), d)
        nodes.append(api); base = f"http://127.0.0.1:{port}"; wait_http(base)
        _, j = http("POST", base + "/train", json.dumps({"steps": 50, "model": {"hidden": [16]}}))
        wait_jobs(lambda: int(psql(url, f"SELECT COUNT(*) FROM jobs WHERE id = '{j['id']}' AND status = 'succeeded'")[0][0]), 1)
        model = psql(url, "SELECT id FROM models")[0][0]
        ids = [submit(base, model, i) for i in range(n)]
        for w in range(workers):
            d = tempfile.mkdtemp(dir=tmp)
            nodes.append(Node(["worker", "--workers-train", "0", "--workers-sample", "1"], dict(env, SCORED_NODE_NAME=f"w{w}"), d))
        done = lambda: int(psql(url, "SELECT COUNT(*) FROM jobs WHERE kind = 'sample' AND status = 'succeeded'")[0][0])
        wait_jobs(done, n)
        lo, hi, once = psql(url, "SELECT MIN(started_at), MAX(started_at), BOOL_AND(attempts = 1) FROM jobs WHERE kind = 'sample'")[0]
        assert once == "t", "a job ran twice"
        rate = (n - 1) / (float(hi) - float(lo))
        lat = []
        for i in range(latency_jobs):
            jid = submit(base, model, n + i)
            wait_jobs(lambda: int(psql(url, f"SELECT COUNT(*) FROM jobs WHERE id = '{jid}' AND status = 'succeeded'")[0][0]), 1)
            lat.append(float(psql(url, f"SELECT started_at - created_at FROM jobs WHERE id = '{jid}'")[0][0]) * 1000)
        return rate, lat
    finally:
        for nd in nodes: nd.stop()
        psql(pg_url, f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")


def run_sqlite(n, latency_jobs, tmp):
    d = tempfile.mkdtemp(dir=tmp); port = free_port()
    node = Node(Node.serve_args(port), {}, d)
    base = f"http://127.0.0.1:{port}"
    db = os.path.join(d, "store.db")
    import sqlite3
    def q(sql):
        c = sqlite3.connect(db, timeout=10); r = c.execute(sql).fetchall(); c.close(); return r
    try:
        wait_http(base)
        _, j = http("POST", base + "/train", json.dumps({"steps": 50, "model": {"hidden": [16]}}))
        wait_jobs(lambda: q(f"SELECT COUNT(*) FROM jobs WHERE id = '{j['id']}' AND status = 'succeeded'")[0][0], 1)
        model = q("SELECT id FROM models")[0][0]
        for i in range(n): submit(base, model, i)
        wait_jobs(lambda: q("SELECT COUNT(*) FROM jobs WHERE kind = 'sample' AND status = 'succeeded'")[0][0], n)
        lo, hi = q("SELECT MIN(started_at), MAX(started_at) FROM jobs WHERE kind = 'sample'")[0]
        rate = (n - 1) / (hi - lo)
        lat = []
        for i in range(latency_jobs):
            jid = submit(base, model, n + i)
            wait_jobs(lambda: q(f"SELECT COUNT(*) FROM jobs WHERE id = '{jid}' AND status = 'succeeded'")[0][0], 1)
            lat.append(q(f"SELECT started_at - created_at FROM jobs WHERE id = '{jid}'")[0][0] * 1000)
        return rate, lat
    finally:
        node.stop()


def pct(xs, p):
    xs = sorted(xs); return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=400)
    ap.add_argument("--latency-jobs", type=int, default=60)
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="scored-bench-queue-")
    os.chmod(tmp, 0o755)  # the cluster runs as the postgres user when this runs as root
    pgdir = os.path.join(tmp, "pg")
    pg_url = subprocess.run([os.path.join(ROOT, "scripts/postgres"), "start", pgdir], check=True, capture_output=True, text=True).stdout.strip()
    try:
        rows = [("SQLite, one process", lambda: run_sqlite(a.jobs, a.latency_jobs, tmp))]
        rows += [(f"PostgreSQL, {w} worker{'s' if w > 1 else ''}", (lambda w=w: run_postgres(pg_url, w, a.jobs, a.latency_jobs, tmp))) for w in (1, 2, 4)]
        print(f"| store, workers | jobs claimed/s | submit → start, median | p95 |")
        print("|---|---|---|---|")
        for name, f in rows:
            rates, meds, p95s = [], [], []
            for _ in range(a.repeats):
                r, lat = f()
                rates.append(r); meds.append(statistics.median(lat)); p95s.append(pct(lat, 95))
            print(f"| {name} | {statistics.median(rates):.0f} ({min(rates):.0f}–{max(rates):.0f}) | "
                  f"{statistics.median(meds):.1f} ms ({min(meds):.1f}–{max(meds):.1f}) | {statistics.median(p95s):.1f} ms |", flush=True)
    finally:
        subprocess.run([os.path.join(ROOT, "scripts/postgres"), "stop", pgdir])
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
