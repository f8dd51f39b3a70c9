import CZlib

/// PNG (ISO/IEC 15948). Writing: 8-bit grey or RGB, one IDAT of the zlib-compressed rows, each with filter
/// type 0 — what a browser shows directly (samples, previews). Reading: 8-bit grey, grey + alpha, RGB and RGBA,
/// not interlaced, every filter type, chunks checked by their CRC; alpha is dropped (grey + alpha → grey,
/// RGBA → RGB). Anything else is refused with the reason.
public enum PNG {
    public static let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    /// The PNG of one grey image, `pixels` row by row (width × height bytes).
    public static func grey(_ pixels: [UInt8], width: Int, height: Int) -> [UInt8] {
        image(pixels, width: width, height: height, channels: 1)
    }

    /// The PNG of one image, `pixels` row by row with `channels` (1: grey, 3: RGB) interleaved samples each.
    public static func image(_ pixels: [UInt8], width: Int, height: Int, channels: Int) -> [UInt8] {
        precondition(width >= 1 && height >= 1 && (channels == 1 || channels == 3) && pixels.count == width * height * channels)
        let stride = width * channels
        var raw = [UInt8]()
        raw.reserveCapacity((stride + 1) * height)
        for y in 0..<height {
            raw.append(0)
            raw.append(contentsOf: pixels[(y * stride)..<((y + 1) * stride)])
        }
        var ihdr = [UInt8]()
        ihdr += bigEndian(UInt32(width)) + bigEndian(UInt32(height))
        // Bit depth 8, colour type 0 (grey) or 2 (RGB), deflate, adaptive filtering, no interlace.
        ihdr += [8, channels == 1 ? 0 : 2, 0, 0, 0]
        return signature + chunk("IHDR", ihdr) + chunk("IDAT", zlib(raw)) + chunk("IEND", [])
    }

    /// Images [n, C, H, W] in [0, 1] as one PNG grid (`ImageCodec.gridPixels`), each pixel `scale`² pixels.
    public static func grid(_ images: Tensor, columns: Int? = nil, scale: Int = 1) -> [UInt8] {
        let g = ImageCodec.gridPixels(images, columns: columns)
        let (w, h, c) = (g.width, g.height, g.channels)
        guard scale > 1 else { return image(g.pixels, width: w, height: h, channels: c) }
        var big = [UInt8](repeating: 0, count: w * h * scale * scale * c)
        for y in 0..<(h * scale) {
            for x in 0..<(w * scale) {
                for ch in 0..<c { big[(y * w * scale + x) * c + ch] = g.pixels[((y / scale) * w + x / scale) * c + ch] }
            }
        }
        return image(big, width: w * scale, height: h * scale, channels: c)
    }

    /// One PNG file as [1, C, H, W] in [0, 1] (C = 1 or 3).
    public static func decode(_ b: [UInt8], limits: ImageCodec.Limits = .init()) throws -> Tensor {
        typealias Invalid = ImageCodec.Invalid
        guard b.starts(with: signature) else { throw Invalid("PNG: bad signature") }
        var i = signature.count
        var header: (w: Int, h: Int, depth: UInt8, type: UInt8, interlace: UInt8)? = nil
        var idat: [UInt8] = []
        var ended = false
        func u32(_ o: Int) -> Int { Int(b[o]) << 24 | Int(b[o + 1]) << 16 | Int(b[o + 2]) << 8 | Int(b[o + 3]) }
        while !ended {
            guard b.count - i >= 12 else { throw Invalid("PNG: the file ends before IEND") }
            let length = u32(i)
            guard length <= b.count - i - 12 else { throw Invalid("PNG: a chunk runs past the end of the file") }
            let type = String(decoding: b[(i + 4)..<(i + 8)], as: UTF8.self)
            let crc = b.withUnsafeBufferPointer { UInt32(crc32(0, $0.baseAddress! + i + 4, uInt(length + 4))) }
            guard crc == UInt32(u32(i + 8 + length)) else { throw Invalid("PNG: chunk \(type) fails its CRC") }
            let data = b[(i + 8)..<(i + 8 + length)]
            switch type {
            case "IHDR":
                guard header == nil, length == 13 else { throw Invalid("PNG: a malformed IHDR") }
                let o = data.startIndex
                header = (u32(o), u32(o + 4), b[o + 8], b[o + 9], b[o + 12])
                guard b[o + 10] == 0, b[o + 11] == 0 else { throw Invalid("PNG: unknown compression or filter method") }
            case "IDAT":
                guard header != nil else { throw Invalid("PNG: IDAT before IHDR") }
                guard idat.count + length <= limits.maxDecompressedBytes else { throw ImageCodec.TooLarge("PNG: too much image data") }
                idat += data
            case "IEND":
                ended = true
            case "PLTE":
                throw Invalid("PNG: palette images are not supported (8-bit grey, grey + alpha, RGB or RGBA)")
            default:
                // Ancillary chunks (lower-case first letter) are skipped; an unknown critical one is refused.
                guard let first = type.unicodeScalars.first, first.properties.isLowercase else { throw Invalid("PNG: unknown critical chunk \(type)") }
            }
            i += 12 + length
        }
        guard let hd = header else { throw Invalid("PNG: no IHDR") }
        guard hd.depth == 8 else { throw Invalid("PNG: bit depth \(hd.depth); only 8-bit images are supported") }
        guard hd.interlace == 0 else { throw Invalid("PNG: interlaced (Adam7) images are not supported") }
        let samples: Int
        switch hd.type {
        case 0: samples = 1
        case 2: samples = 3
        case 4: samples = 2
        case 6: samples = 4
        default: throw Invalid("PNG: colour type \(hd.type) is not supported (8-bit grey, grey + alpha, RGB or RGBA)")
        }
        let channels = samples >= 3 ? 3 : 1
        try ImageCodec.check(n: 1, channels: channels, h: hd.h, w: hd.w, limits)
        let stride = hd.w * samples
        let expected = hd.h * (stride + 1)
        let raw: [UInt8]
        do { raw = try Gzip.decompress(idat, limit: expected) } catch let e as Gzip.TooLarge {
            throw ImageCodec.TooLarge("PNG: the image data \(e)")
        } catch {
            throw Invalid("PNG: the image data: \(error)")
        }
        guard raw.count == expected else { throw Invalid("PNG: \(raw.count) bytes of rows, \(expected) expected for \(hd.w)×\(hd.h)") }
        // Undo the filters row by row (bpp = samples bytes per pixel at depth 8).
        var pixels = [UInt8](repeating: 0, count: hd.h * stride)
        let bpp = samples
        for y in 0..<hd.h {
            let filter = raw[y * (stride + 1)]
            let src = y * (stride + 1) + 1, dst = y * stride
            for x in 0..<stride {
                let v = raw[src + x]
                let a = x >= bpp ? Int(pixels[dst + x - bpp]) : 0
                let up = y > 0 ? Int(pixels[dst - stride + x]) : 0
                let c = x >= bpp && y > 0 ? Int(pixels[dst - stride + x - bpp]) : 0
                let predicted: Int
                switch filter {
                case 0: predicted = 0
                case 1: predicted = a
                case 2: predicted = up
                case 3: predicted = (a + up) / 2
                case 4:
                    let p = a + up - c, pa = abs(p - a), pb = abs(p - up), pc = abs(p - c)
                    predicted = pa <= pb && pa <= pc ? a : (pb <= pc ? up : c)
                default: throw Invalid("PNG: row \(y) has filter type \(filter)")
                }
                pixels[dst + x] = UInt8(truncatingIfNeeded: Int(v) + predicted)
            }
        }
        let hw = hd.h * hd.w
        return Tensor(shape: [1, channels, hd.h, hd.w]) { out, _ in
            for p in 0..<hw {
                for ch in 0..<channels { out[ch * hw + p] = Float(pixels[p * samples + ch]) * (1 / 255) }
            }
        }
    }

    static func bigEndian(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }

    static func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
        let body = Array(type.utf8) + data
        let crc = body.withUnsafeBufferPointer { UInt32(crc32(0, $0.baseAddress, uInt($0.count))) }
        return bigEndian(UInt32(data.count)) + body + bigEndian(crc)
    }

    static func zlib(_ bytes: [UInt8]) -> [UInt8] {
        var size = compressBound(uLong(bytes.count))
        var out = [UInt8](repeating: 0, count: Int(size))
        let r = out.withUnsafeMutableBufferPointer { o in
            bytes.withUnsafeBufferPointer { i in compress2(o.baseAddress, &size, i.baseAddress, uLong(i.count), 6) }
        }
        precondition(r == Z_OK, "compress2: \(r)")
        return Array(out[0..<Int(size)])
    }
}
