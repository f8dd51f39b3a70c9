/// Process-wide settings for the numeric work.
public enum Engine {
    /// Sets up a process for the engine: the allocator (below), and OpenBLAS on one thread per call: the
    /// engine runs its own threads over rows of a batch (sampling chunks, training shards), and OpenBLAS's
    /// threads on top would oversubscribe the cores and slow both down.
    public static func configure() {
        configureAllocator()
        Kernels.setBLASThreads(1)
    }

    /// Keeps freed memory in the process: glibc would otherwise return the top of the heap to the system
    /// (and serve blocks over 128 KiB by mmap) after each step, then fault the same pages in again on the
    /// next one, spending more time in the kernel than in the step. Call once at start-up.
    public static func configureAllocator() {
        #if os(Linux)
        // <malloc.h>: M_TRIM_THRESHOLD −1, M_TOP_PAD −2, M_MMAP_THRESHOLD −3 (not exported by the Glibc module).
        _ = glibcMallopt(-1, 1 << 30)
        _ = glibcMallopt(-2, 64 << 20)
        _ = glibcMallopt(-3, 256 << 20)
        #endif
    }
}

#if os(Linux)
@_silgen_name("mallopt")
private func glibcMallopt(_ parameter: Int32, _ value: Int32) -> Int32
#endif
