"""Writes the image-archive fixtures of the codec tests with Python's standard library (tarfile, gzip, zlib):
sets.tar.gz holds 6×4 grey images in two class folders ("cats" 2 images, "dogs" 3 images) as PGM and PNG, a
nested directory entry and a README that is not an image; image k (in name order) has every pixel 40·(k + 1).
Run: python3 make_fixtures.py (in this directory)."""
import io, struct, tarfile, zlib

W, H = 6, 4

def pgm(v):
    return b"P5\n%d %d\n255\n" % (W, H) + bytes([v]) * (W * H)

def png(v):
    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)
    raw = b"".join(b"\x00" + bytes([v]) * W for _ in range(H))
    ihdr = struct.pack(">IIBBBBB", W, H, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")

files = [("set/cats/a.pgm", pgm(40)), ("set/cats/b.png", png(80)), ("set/dogs/c.pgm", pgm(120)),
         ("set/dogs/d.png", png(160)), ("set/dogs/e.pgm", pgm(200))]
buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode="w:gz", format=tarfile.PAX_FORMAT) as tar:
    for d in ["set", "set/cats", "set/dogs"]:
        info = tarfile.TarInfo(d); info.type = tarfile.DIRTYPE; tar.addfile(info)
    readme = b"not an image\n"
    info = tarfile.TarInfo("set/README.txt"); info.size = len(readme); tar.addfile(info, io.BytesIO(readme))
    for name, data in files:
        info = tarfile.TarInfo(name); info.size = len(data); tar.addfile(info, io.BytesIO(data))
open("sets.tar.gz", "wb").write(buf.getvalue())
