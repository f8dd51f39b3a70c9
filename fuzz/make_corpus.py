#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets, fuzz/corpus/<target>/<name>, and the inputs of crashes found
and fixed, fuzz/regressions/<target>/<name>, which are also seeds (regression_*) of their target's corpus and
are inlined in Tests/ScoreEngineTests/Checkpoint/FuzzRegressionTests.swift. Replay one with
`fuzz/.build/release/<target> fuzz/regressions/<target>/<name>`.

    python3 fuzz/make_corpus.py          # rewrites fuzz/corpus and fuzz/regressions from scratch

Deterministic (fixed gzip mtimes, tar mtimes and pixel values), standard library only. Several targets take a
leading mode byte before the payload (see each target's source in fuzz/Sources/<target>/):
  http_parser  byte 0: bytes per simulated socket read, (b % 64) + 1
  pgm          bit 0: gzip the payload
  idx          bit 0: a label file (else images); bit 1: gzip the payload
  png          b % 3: 0 the file as is, 1 chunk stream with CRCs fixed, 2 as 1 with raw (uncompressed) IDAT
  tar          bit 0: fix the header checksums; bit 1: gzip the archive
json, csv and safetensors take the file alone.
"""
import gzip
import io
import json
import os
import shutil
import struct
import tarfile
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "corpus")
REGRESSIONS = os.path.join(HERE, "regressions")


def write(target, name, data, root=ROOT):
    d = os.path.join(root, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def gz(data):
    return gzip.compress(data, mtime=0)


# ---------------------------------------------------------------------------------------------- HTTP

def http():
    crlf = lambda s: s.replace("\n", "\r\n").encode()
    reqs = {
        "get": crlf("GET / HTTP/1.1\nHost: localhost:8080\nUser-Agent: curl/8.5.0\nAccept: */*\n\n"),
        "get_query": crlf("GET /datasets/swiss_roll/points?n=100&seed=7&name=a%20b+c HTTP/1.1\nHost: x\n\n"),
        "post_length": crlf("POST /train HTTP/1.1\nHost: x\nContent-Type: application/json\nContent-Length: 36\n\n")
        + b'{"dataset":"swiss_roll","steps":100}',
        "post_chunked": crlf("POST /datasets?name=pts HTTP/1.1\nHost: x\nContent-Type: text/csv\n"
                             "Transfer-Encoding: chunked\n\n")
        + b"4\r\nx,y\n\r\nA;ext=1\r\n0.5,1\n2,3\n\r\n0\r\nX-Checksum: abc\r\n\r\n",
        "pipelined": crlf("GET /health HTTP/1.1\nHost: x\n\n"
                          "POST /impute HTTP/1.1\nHost: x\nContent-Length: 25\n\n")
        + b'{"points":[[0.5,null]]}\n\n'
        + crlf("PUT /datasets/d_1/labels HTTP/1.1\nHost: x\nTransfer-Encoding: chunked\n\n")
        + b"3\r\n\x00\x00\x08\r\n0\r\n\r\n"
        + crlf("GET /jobs HTTP/1.1\nHost: x\nConnection: close\n\n"),
        "http10_keepalive": crlf("GET /models HTTP/1.0\nConnection: keep-alive\n\nGET /models HTTP/1.0\n\n"),
        "absolute_form": crlf("GET http://example.com:8080/jobs?limit=3 HTTP/1.1\nHost: example.com\n\n"),
        "options_star": crlf("OPTIONS * HTTP/1.1\nHost: x\n\n"),
        "expect_continue": crlf("POST /datasets?name=a HTTP/1.1\nHost: x\nExpect: 100-continue\n"
                                "Content-Type: application/octet-stream\nContent-Length: 4\n\n") + b"P5\n1",
        "leading_empty_line": b"\r\n" + crlf("DELETE /jobs/j_1 HTTP/1.1\nHost: x\nContent-Length: 0\n\n"),
        # Edge cases the parser must refuse.
        "bare_lf": b"GET / HTTP/1.1\nHost: x\n\n",
        "cl_and_te": crlf("POST / HTTP/1.1\nHost: x\nContent-Length: 3\nTransfer-Encoding: chunked\n\n") + b"abc",
        "obs_fold": crlf("GET / HTTP/1.1\nHost: x\nX-A: 1\n  continued\n\n"),
        "chunk_overflow": crlf("POST / HTTP/1.1\nHost: x\nTransfer-Encoding: chunked\n\n") + b"fffffffffffffff\r\n",
    }
    for name, r in reqs.items():
        write("http_parser", name, bytes([63]) + r)  # whole 64-byte reads
    # The same requests arriving a byte at a time, and in 7-byte pieces.
    write("http_parser", "pipelined_bytewise", bytes([0]) + reqs["pipelined"])
    write("http_parser", "post_chunked_7", bytes([6]) + reqs["post_chunked"])


# ---------------------------------------------------------------------------------------------- JSON

def jsons():
    docs = {
        "train_points": {"dataset": "swiss_roll", "steps": 100},
        "train_full": {"dataset": "moons", "objective": "dsm", "sde": "vp", "steps": 200, "batch_size": 64,
                       "learning_rate": 0.001, "lr_schedule": "cosine", "warmup": 10, "ema": 0.99, "seed": 3,
                       "model": {"hidden": [64, 64], "activation": "silu", "conditioning": "layers",
                                 "time_features": 16, "fourier_scale": 4, "preconditioning": True}},
        "train_images": {"dataset": "mnist", "steps": 10, "model": {"channels": [8, 16, 16, 16], "time_features": 8}},
        "train_preset": {"preset": "ncsn_swiss_roll", "steps": 50, "sigma_min": None},
        "train_sliced": {"dataset": "checkerboard", "objective": "sliced", "sde": "ve", "sigma_max": 5},
        "points": {"points": [[0.5, 1], [2, -3e2], [1e-7, 4]], "labels": [0, 1, 9999]},
        "points_bare": [[1, 2, 3], [4, 5, 6]],
        "impute": {"points": [[0.5, None], [None, 2], [1, 2]]},
        "architecture_mlp": {"type": "mlp", "dimension": 2, "hidden": [8, 8], "activation": "silu",
                             "conditioning": "layers", "time_features": 16, "fourier_scale": 4, "data_scale": 1.4},
        "architecture_unet": {"type": "unet", "image_shape": [1, 28, 28], "channels": [4, 8, 8, 8],
                              "time_features": 8, "fourier_scale": 8, "data_scale": None},
        "architecture_legacy": {"mlp": {"_0": {"activation": "logSigmoid", "conditioning": "concat", "dimension": 2,
                                               "fourierScale": 4, "hidden": [8], "timeFeatures": 0}}},
        "schedule_ve": {"type": "ve", "sigma_min": 0.01, "sigma_max": 7},
        "schedule_ladder": {"type": "ladder", "sigma_min": 0.01, "sigma_max": 1, "levels": 10},
    }
    for name, d in docs.items():
        write("json", name + ".json", json.dumps(d))
    write("json", "escapes.json", '["a\\"b\\\\c\\/\\b\\f\\n\\r\\t", "\\u00e9\\ud83d\\ude00", "\u00e9\u4e2d", ""]')
    write("json", "numbers.json", "[0, -0, -0.0, 1.5e300, 1e400, -1e-400, 123456789012345678901234567890, 0.1E+2]")
    write("json", "literals.json", ' \t\r\n{"a": true, "b": false, "c": null, "d": {}, "e": []} \n')
    write("json", "deep.json", "[" * 63 + "]" * 63)
    write("json", "too_deep.json", "[" * 65 + "]" * 65)
    write("json", "trailing_comma.json", '{"a": [1, 2,]}')
    write("json", "duplicate_key.json", '{"a": 1, "a": 2}')
    write("json", "lone_surrogate.json", '"\\udc00"')


# ---------------------------------------------------------------------------------------------- CSV

def csvs():
    write("csv", "header.csv", "x,y\n0.5,1\n2,3\n-1e3,4.25\n")
    write("csv", "no_header.csv", "1,2\n3,4\n5,6\n")
    write("csv", "label_last.csv", "x,y,label\n0.1,0.2,0\n0.3,0.4,1\n0.5,0.6,2\n")
    write("csv", "label_first.csv", "Label , x\n3, 1e3\n9999, -2\n")
    write("csv", "crlf_spaces.csv", " 1 , 2 \r\n\r\n 3 ,4\r\n")
    write("csv", "one_column.csv", "7\n8\n9\n")
    write("csv", "two_labels.csv", "label,x,label\n1,2,3\n")
    write("csv", "non_finite.csv", "x,y\nnan,1\ninf,-inf\n")
    write("csv", "ragged.csv", "1,2\n3\n")
    write("csv", "bad_label.csv", "x,label\n1,0.5\n2,-1\n")


# ---------------------------------------------------------------------------------------------- PGM/PPM

def pnm(kind, w, h, maxval, samples, comment=None):
    head = f"P{kind}\n" + (f"# {comment}\n" if comment else "") + f"{w} {h}\n{maxval}\n"
    if maxval > 255:
        body = b"".join(struct.pack(">H", s) for s in samples)
    else:
        body = bytes(samples)
    return head.encode() + body


def pgms():
    a = pnm(5, 4, 4, 255, [(17 * i) % 256 for i in range(16)], "a comment")
    b = pnm(5, 4, 4, 255, [255 - (17 * i) % 256 for i in range(16)])
    rgb = pnm(6, 3, 2, 255, [(40 * i) % 256 for i in range(18)])
    deep = pnm(5, 2, 2, 1000, [0, 250, 999, 1000])
    write("pgm", "p5_two_images", b"\x00" + a + b)
    write("pgm", "p6", b"\x00" + rgb + rgb)
    write("pgm", "p5_16bit", b"\x00" + deep)
    write("pgm", "p5_gzipped_file", b"\x00" + gz(a))
    write("pgm", "p5_gzip_mode", b"\x01" + a + b)
    write("pgm", "p6_gzip_mode", b"\x01" + rgb)
    # Edge cases: a sample above maxval, cut-short data, mixed kinds, maxval 0.
    write("pgm", "above_maxval", b"\x00" + pnm(5, 2, 1, 10, [5, 11]))
    write("pgm", "cut_short", b"\x00" + a[:-3])
    write("pgm", "mixed_kinds", b"\x00" + a + rgb)
    write("pgm", "maxval_zero", b"\x00" + b"P5 1 1 0\n\x00")


# ---------------------------------------------------------------------------------------------- IDX

def idxs():
    n, rows, cols = 2, 4, 4
    images = struct.pack(">BBBB", 0, 0, 8, 3) + struct.pack(">III", n, rows, cols) + bytes((i * 16) % 256 for i in range(n * rows * cols))
    colour = struct.pack(">BBBB", 0, 0, 8, 4) + struct.pack(">IIII", 1, 3, 2, 2) + bytes(range(0, 240, 20))
    labels = struct.pack(">BBBB", 0, 0, 8, 1) + struct.pack(">I", 2) + bytes([3, 7])
    write("idx", "images_2x4x4", b"\x00" + images)
    write("idx", "images_colour", b"\x00" + colour)
    write("idx", "images_gzipped_file", b"\x00" + gz(images))
    write("idx", "images_gzip_mode", b"\x02" + images)
    write("idx", "labels", b"\x01" + labels)
    write("idx", "labels_gzipped_file", b"\x01" + gz(labels))
    write("idx", "labels_gzip_mode", b"\x03" + labels)
    # Edge cases: a count that does not match the data, two dimensions, 16-bit data.
    write("idx", "labels_wrong_count", b"\x01" + struct.pack(">BBBBI", 0, 0, 8, 1, 5) + bytes([1, 2]))
    write("idx", "images_short", b"\x00" + images[:-1])
    write("idx", "images_2d", b"\x00" + struct.pack(">BBBBII", 0, 0, 8, 2, 2, 2) + bytes(4))
    write("idx", "images_int16", b"\x00" + struct.pack(">BBBBIII", 0, 0, 0x0B, 3, 1, 1, 1) + bytes(2))


# ---------------------------------------------------------------------------------------------- PNG

def chunk(kind, data, crc=True):
    c = struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF) if crc else b"\0\0\0\0"
    return struct.pack(">I", len(data)) + kind + data + c


def scanlines(w, h, samples, seed):
    """Rows with filter types 0…4 in turn and varied pixels."""
    raw = b""
    for y in range(h):
        raw += bytes([y % 5]) + bytes(((x * 37 + y * 11 + seed) * 7) % 256 for x in range(w * samples))
    return raw


def png(w, h, colour_type, samples, depth=8, interlace=0, seed=0, crc=True, compress=True, extra=b""):
    ihdr = struct.pack(">IIBBBBB", w, h, depth, colour_type, 0, 0, interlace)
    raw = scanlines(w, h, samples, seed)
    idat = zlib.compress(raw, 9) if compress else raw
    sig = b"\x89PNG\r\n\x1a\n"
    return sig + chunk(b"IHDR", ihdr, crc) + extra + chunk(b"IDAT", idat, crc) + chunk(b"IEND", b"", crc)


def pngs():
    sig = 8
    write("png", "grey", b"\x00" + png(5, 5, 0, 1))
    write("png", "rgb", b"\x00" + png(4, 5, 2, 3, seed=1))
    write("png", "rgba", b"\x00" + png(3, 5, 6, 4, seed=2))
    write("png", "grey_alpha", b"\x00" + png(5, 3, 4, 2, seed=3, extra=chunk(b"tEXt", b"Comment\0fuzz")))
    write("png", "gzipped_file", b"\x00" + gz(png(4, 4, 0, 1, seed=4)))
    # Mode 1: CRCs left blank, fixed by the harness.
    write("png", "grey_crc_fixed", b"\x01" + png(5, 5, 0, 1, seed=5, crc=False)[sig:])
    write("png", "rgb_crc_fixed", b"\x01" + png(4, 3, 2, 3, seed=6, crc=False)[sig:])
    # Mode 2: IDAT holds the raw filtered rows, split over two chunks.
    raw = scanlines(5, 5, 4, 7)
    ihdr = chunk(b"IHDR", struct.pack(">IIBBBBB", 5, 5, 8, 6, 0, 0, 0), False)
    write("png", "rgba_raw_idat", b"\x02" + ihdr + chunk(b"IDAT", raw[:40], False) + chunk(b"IDAT", raw[40:], False)
          + chunk(b"IEND", b"", False))
    raw = scanlines(6, 4, 1, 8)
    write("png", "grey_raw_idat", b"\x02" + chunk(b"IHDR", struct.pack(">IIBBBBB", 6, 4, 8, 0, 0, 0, 0), False)
          + chunk(b"IDAT", raw, False) + chunk(b"IEND", b"", False))
    # Edge cases the decoder refuses: palette, 16-bit, interlaced, a bad CRC, a bad filter type.
    write("png", "palette", b"\x00" + png(2, 2, 3, 1, extra=chunk(b"PLTE", bytes(range(12)))))
    write("png", "sixteen_bit", b"\x00" + png(2, 2, 0, 2, depth=16))
    write("png", "interlaced", b"\x00" + png(2, 2, 0, 1, interlace=1))
    bad = bytearray(png(3, 3, 0, 1))
    bad[-5] ^= 1
    write("png", "bad_crc", b"\x00" + bytes(bad))
    write("png", "bad_filter", b"\x02" + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 1, 8, 0, 0, 0, 0), False)
          + chunk(b"IDAT", b"\x05\x01\x02", False) + chunk(b"IEND", b"", False))


# ---------------------------------------------------------------------------------------------- tar

def tar(files, fmt=tarfile.USTAR_FORMAT, dirs=()):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as t:
        for d in dirs:
            info = tarfile.TarInfo(d)
            info.type = tarfile.DIRTYPE
            info.mode = 0o755
            info.mtime = 0
            t.addfile(info)
        for name, data in files:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 0
            info.mode = 0o644
            t.addfile(info, io.BytesIO(data))
    b = buf.getvalue()
    # tarfile pads to 10 KiB records; keep the end-of-archive zero blocks only.
    end = len(b.rstrip(b"\0"))
    end = (end + 511) // 512 * 512
    return b[:end] + bytes(1024)


def tars():
    g = lambda s: pnm(5, 3, 3, 255, [(s * 29 + i * 13) % 256 for i in range(9)])
    p = lambda s: png(3, 3, 0, 1, seed=s)
    classes = tar([("cats/a.pgm", g(1)), ("cats/b.png", p(2)), ("dogs/c.pgm.gz", gz(g(3))), ("dogs/README", b"hi\n")],
                  dirs=["cats", "dogs"])
    write("tar", "classes", b"\x00" + classes)
    write("tar", "classes_fix_mode", b"\x01" + classes)
    write("tar", "classes_gzip_mode", b"\x02" + classes)
    write("tar", "classes_gzipped_file", b"\x00" + gz(classes))
    write("tar", "one_folder", b"\x00" + tar([("set/x.pgm", g(4)), ("set/y.pgm", g(5))]))
    write("tar", "gnu_long_name", b"\x00" + tar([("l" * 110 + "/a.pgm", g(6)), ("s/b.pgm", g(7))], fmt=tarfile.GNU_FORMAT))
    write("tar", "pax_path", b"\x00" + tar([("p" * 120 + "/a.pgm", g(8)), ("q/é.pgm", g(9))], fmt=tarfile.PAX_FORMAT))
    write("tar", "apple_double", b"\x03" + tar([("__MACOSX/._a.pgm", b"junk"), ("a/._b.png", b"junk"), ("a/c.ppm",
                                                 pnm(6, 2, 2, 255, list(range(12))))]))
    # Edge cases: images of two sizes, no images, a size field past the end.
    write("tar", "mixed_sizes", b"\x01" + tar([("a/x.pgm", g(1)), ("b/y.pgm", pnm(5, 2, 2, 255, [1, 2, 3, 4]))]))
    write("tar", "no_images", b"\x01" + tar([("notes.txt", b"nothing here\n")]))
    cut = bytearray(tar([("a/x.pgm", g(1))]))
    cut[124:136] = b"77777777777\0"
    write("tar", "size_past_end", b"\x01" + bytes(cut))


# ---------------------------------------------------------------------------------------------- safetensors

def safetensors(tensors, metadata=None):
    """tensors: [(name, dtype, shape, raw bytes)]."""
    header, data = {}, b""
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    if metadata is not None:
        header["__metadata__"] = metadata
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + data


def f32(shape, seed=0):
    n = 1
    for s in shape:
        n *= s
    return ("F32", shape, struct.pack(f"<{n}f", *[((i * 7 + seed) % 13 - 6) / 8 for i in range(n)]))


def mlp_params(dim, hidden, tf):
    """Parameter names and shapes of the MLP score net with `layers` conditioning, as the fixtures show them."""
    out = []
    if tf:
        out.append(("embed.W",) + f32([tf // 2]))
    widths = [dim + tf] + hidden
    k = 0
    for i, h in enumerate(hidden):
        out.append((f"net.{k}.weight",) + f32([h, widths[i]], k))
        out.append((f"net.{k}.bias",) + f32([h], k + 1))
        if tf:
            out.append((f"temb.{i}.weight",) + f32([h, tf], k + 2))
        k += 2
    out.append((f"net.{k}.weight",) + f32([dim, hidden[-1]], k))
    out.append((f"net.{k}.bias",) + f32([dim], k + 1))
    return out


def safetensorss():
    write("safetensors", "f32", safetensors([("data",) + f32([3, 2]), ("labels",) + f32([3], 1)],
                                            {"name": "pts", "kind": "points"}))
    write("safetensors", "dtypes", safetensors([
        ("a", "F16", [2], struct.pack("<2e", 1.5, -2.0)),
        ("b", "BF16", [2], struct.pack("<2H", 0x3F80, 0xC000)),
        ("c", "F64", [1, 2], struct.pack("<2d", 3.25, float("nan"))),
        ("empty", "F32", [0, 4], b""),
        ("scalar", "F32", [], struct.pack("<f", 7.0)),
    ]))
    write("safetensors", "bad_dtype", safetensors([("x", "I64", [1], bytes(8))]))
    write("safetensors", "bad_offsets", safetensors([("x", "F32", [2], bytes(4))]))
    arch = {"type": "mlp", "dimension": 2, "hidden": [8], "activation": "softplus", "conditioning": "layers",
            "time_features": 0, "fourier_scale": 4, "data_scale": None}
    write("safetensors", "checkpoint_v2", safetensors(mlp_params(2, [8], 0), {
        "format": "scored-model/2", "architecture": json.dumps(arch), "schedule": json.dumps({"type": "none"})}))
    arch_t = dict(arch, hidden=[8, 4], activation="silu", time_features=4, data_scale=1.4)
    write("safetensors", "checkpoint_v2_ve", safetensors(mlp_params(2, [8, 4], 4), {
        "format": "scored-model/2", "architecture": json.dumps(arch_t),
        "schedule": json.dumps({"type": "ve", "sigma_min": 0.01, "sigma_max": 7.0})}))
    legacy = {"mlp": {"_0": {"activation": "softplus", "conditioning": "layers", "dataScale": 2.3, "dimension": 2,
                             "fourierScale": 4, "hidden": [8], "timeFeatures": 0}}}
    write("safetensors", "checkpoint_v1", safetensors(mlp_params(2, [8], 0), {
        "format": "scored-model/1", "architecture": json.dumps(legacy), "schedule": json.dumps({"none": {}})}))
    write("safetensors", "checkpoint_ladder", safetensors(mlp_params(2, [4], 4), {
        "format": "scored-model/2", "architecture": json.dumps(dict(arch, hidden=[4], time_features=4)),
        "schedule": json.dumps({"type": "ladder", "sigma_min": 0.01, "sigma_max": 1.0, "levels": 3})}))


def regressions():
    """Crashes the safetensors target found (fixed), in their smallest forms: regressions, and seeds."""
    ve = json.dumps({"type": "ve", "sigma_min": 0.01, "sigma_max": 7})
    mlp = {"type": "mlp", "dimension": 2, "hidden": [8], "activation": "silu", "conditioning": "layers",
           "time_features": 3, "fourier_scale": 4, "data_scale": None}
    unet = {"type": "unet", "image_shape": [1, 28, 29], "channels": [4, 8, 8, 8], "time_features": 8,
            "fourier_scale": 8, "data_scale": None}
    meta = lambda arch: {"format": "scored-model/2", "architecture": json.dumps(arch), "schedule": ve}
    # Architecture(json:) accepts an odd mlp time_features; GaussianFourierProjection's precondition traps.
    write("safetensors", "odd_time_features", safetensors([], meta(mlp)), REGRESSIONS)
    # UNetScoreNet.Config.problem accepts 28×29 images; UNetScoreNet.init's output-padding precondition traps.
    write("safetensors", "unet_unequal_paddings", safetensors([], meta(unet)), REGRESSIONS)
    # Safetensors.read: shape.reduce(1, *) overflows.
    write("safetensors", "shape_product_overflow", safetensors([("x", "F32", [1 << 32, 1 << 32], b"")]), REGRESSIONS)
    # Safetensors.read: count * width overflows.
    write("safetensors", "byte_size_overflow", safetensors([("x", "F32", [1 << 62], b"")]), REGRESSIONS)
    for name in sorted(os.listdir(os.path.join(REGRESSIONS, "safetensors"))):
        with open(os.path.join(REGRESSIONS, "safetensors", name), "rb") as f:
            write("safetensors", "regression_" + name, f.read())


def main():
    shutil.rmtree(ROOT, ignore_errors=True)
    shutil.rmtree(REGRESSIONS, ignore_errors=True)
    regressions()
    http()
    jsons()
    csvs()
    pgms()
    idxs()
    pngs()
    tars()
    safetensorss()
    total = 0
    for d, _, files in os.walk(ROOT):
        for f in files:
            total += os.path.getsize(os.path.join(d, f))
    print(f"wrote {sum(len(f) for _, _, f in os.walk(ROOT))} files, {total} bytes, under {ROOT}")


if __name__ == "__main__":
    main()
