"""Writes the PNG fixtures of the codec tests with Python's standard library (zlib, struct): each colour type
the service reads (8-bit grey 0, RGB 2, grey + alpha 4, RGBA 6) at 7×5, row y filtered with filter type y % 5
(None, Sub, Up, Average, Paeth), and the sample values v(x, y, c) = (37x + 91y + 53c + 11) mod 256 that the test
recomputes. Also a palette image (type 3), an interlaced one and a 16-bit one, which are refused.
Run: python3 make_fixtures.py (in this directory)."""
import struct, zlib

W, H = 7, 5

def value(x, y, c):
    return (37 * x + 91 * y + 53 * c + 11) % 256

def paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else (b if pb <= pc else c)

def chunk(kind, data):
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)

def png(colour_type, samples, depth=8, interlace=0, filters=True):
    rows = []
    prev = [0] * (W * samples)
    for y in range(H):
        raw = [value(x, y, c) for x in range(W) for c in range(samples)]
        f = y % 5 if filters else 0
        out = []
        for i, v in enumerate(raw):
            a = raw[i - samples] if i >= samples else 0
            b = prev[i]
            c = prev[i - samples] if i >= samples else 0
            pred = [0, a, b, (a + b) // 2, paeth(a, b, c)][f]
            out.append((v - pred) % 256)
        rows.append(bytes([f] + out))
        prev = raw
    ihdr = struct.pack(">IIBBBBB", W, H, depth, colour_type, 0, 0, interlace)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"".join(rows), 9)) + chunk(b"IEND", b"")

for name, t, s in [("grey", 0, 1), ("rgb", 2, 3), ("grey_alpha", 4, 2), ("rgba", 6, 4)]:
    open(f"{name}.png", "wb").write(png(t, s))
open("interlaced.png", "wb").write(png(2, 3, interlace=1))
palette = png(3, 1, filters=False)
open("palette.png", "wb").write(palette[:33] + chunk(b"PLTE", bytes(range(256)) * 3) + palette[33:])
open("sixteen_bit.png", "wb").write(png(0, 1, depth=16))
