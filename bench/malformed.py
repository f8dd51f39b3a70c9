"""Malformed HTTP for the soak (bench/soak.sh): for SECONDS, one request after another on fresh connections, each
broken in a different way; prints how many were sent and the answers by status (none expected to be 5xx, and
the connection always answered or closed, never hung)."""
import collections, random, socket, sys, time

host, port, seconds, token = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
rng = random.Random(7)
cases = [
    lambda: bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 400))),
    lambda: b"GET /jobs HTTP/9.9\r\n\r\n",
    lambda: b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    lambda: b"GET /jobs HTTP/1.1\r\nHost: x\r\n" + b"X-Big: " + b"b" * 40000 + b"\r\n\r\n",
    lambda: b"POST /train HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nAuthorization: Bearer " + token.encode() + b"\r\n\r\nzz\r\n",
    lambda: b"POST /train HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello",
    lambda: b"POST /train HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\nAuthorization: Bearer " + token.encode() + b"\r\n\r\n{\"steps\":",
    lambda: b"GET /jobs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer scd_k_aaaaaaaaaaaaaa_" + b"0" * 64 + b"\r\n\r\n",
    lambda: b"POST /train HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 9\r\nAuthorization: Bearer " + token.encode() + b"\r\n\r\n{\"steps\":",
    lambda: b"GET /jobs\x00 HTTP/1.1\r\nHost: x\r\n\r\n",
    lambda: b"G\xffT /jobs HTTP/1.1\r\n\r\n",
    lambda: b"GET /samples?n=%zz HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + token.encode() + b"\r\n\r\n",
]
counts, sent, hung = collections.Counter(), 0, 0
end = time.time() + seconds
while time.time() < end:
    data = rng.choice(cases)()
    try:
        s = socket.create_connection((host, port), timeout=5)
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        reply = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            reply += chunk
        s.close()
        status = reply[9:12].decode("latin-1") if reply.startswith(b"HTTP/1.1 ") else "closed"
        counts[status] += 1
    except socket.timeout:
        hung += 1
    except OSError as e:
        counts[type(e).__name__] += 1
    sent += 1
    time.sleep(0.005)
print(f"{sent} malformed requests: " + ", ".join(f"{k}: {v}" for k, v in sorted(counts.items())) + f"; hung: {hung}")
