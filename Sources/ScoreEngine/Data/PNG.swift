import CZlib

/// PNG (ISO/IEC 15948) writing for grey-scale images: 8-bit, one IDAT of the zlib-compressed rows, each row
/// with filter type 0. What a browser shows directly (the sampling previews).
public enum PNG {
    /// The PNG of one grey image, `pixels` row by row (width × height bytes).
    public static func grey(_ pixels: [UInt8], width: Int, height: Int) -> [UInt8] {
        precondition(width >= 1 && height >= 1 && pixels.count == width * height)
        var raw = [UInt8]()
        raw.reserveCapacity((width + 1) * height)
        for y in 0..<height {
            raw.append(0)
            raw.append(contentsOf: pixels[(y * width)..<((y + 1) * width)])
        }
        var ihdr = [UInt8]()
        ihdr += bigEndian(UInt32(width)) + bigEndian(UInt32(height))
        ihdr += [8, 0, 0, 0, 0]  // bit depth 8, colour type 0 (grey), deflate, adaptive filtering, no interlace
        return [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + chunk("IHDR", ihdr) + chunk("IDAT", zlib(raw)) + chunk("IEND", [])
    }

    /// Images [n, 1, H, W] in [0, 1] as one PNG grid (`ImageCodec.gridPixels`).
    public static func grid(_ images: Tensor, columns: Int? = nil, scale: Int = 1) -> [UInt8] {
        let (pixels, w, h) = ImageCodec.gridPixels(images, columns: columns)
        guard scale > 1 else { return grey(pixels, width: w, height: h) }
        var big = [UInt8](repeating: 0, count: w * h * scale * scale)
        for y in 0..<(h * scale) { for x in 0..<(w * scale) { big[y * w * scale + x] = pixels[(y / scale) * w + x / scale] } }
        return grey(big, width: w * scale, height: h * scale)
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
