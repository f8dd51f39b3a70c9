#!/usr/bin/env python3
"""Converts a binary PGM (P5, 8-bit; gzip-compressed or not) to PNG, with the standard library only.
Usage: scripts/pgm2png.py IN.pgm[.gz] OUT.png [SCALE]"""
import gzip, struct, sys, zlib

def read_pgm(data):
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    fields, i = [], 0
    while len(fields) < 4:
        while data[i:i + 1].isspace():
            i += 1
        if data[i:i + 1] == b"#":
            while data[i:i + 1] not in (b"\n", b""):
                i += 1
            continue
        j = i
        while not data[j:j + 1].isspace():
            j += 1
        fields.append(data[i:j]); i = j
    assert fields[0] == b"P5" and int(fields[3]) < 256, "expected an 8-bit P5 image"
    w, h = int(fields[1]), int(fields[2])
    return w, h, data[i + 1:i + 1 + w * h]

def write_png(path, w, h, pixels, scale):
    rows = b"".join(b"\x00" + bytes(p for p in pixels[y * w:(y + 1) * w] for _ in range(scale))
                    for y in range(h) for _ in range(scale))
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w * scale, h * scale, 8, 0, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b"")
    open(path, "wb").write(png)

if __name__ == "__main__":
    w, h, px = read_pgm(open(sys.argv[1], "rb").read())
    write_png(sys.argv[2], w, h, px, int(sys.argv[3]) if len(sys.argv) > 3 else 1)
