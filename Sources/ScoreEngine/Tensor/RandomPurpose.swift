/// The purposes random streams are derived for (`Philox.derived`, or mixed into a seed): each names one use of
/// a seed, so that the draws for one purpose never depend on those of another. Changing a value changes every
/// result that depends on it (trained models, samples), so they are fixed.
public enum RandomPurpose {
    /// Minibatch indices of a training run.
    public static let minibatches: UInt64 = 0x7EA1
    /// The key of the per-step, per-shard noise streams of a training run (mixed into the seed).
    public static let trainingNoise: UInt64 = 0x5A4D
    /// A model's initial parameters.
    public static let initialization: UInt64 = 0x1417
    /// Points drawn from a built-in generator for training.
    public static let trainingData: UInt64 = 0xDA7A
    /// Fresh reference draws of a built-in data set for evaluation.
    public static let evaluationData: UInt64 = 0xE7A1
    /// The random directions of the sliced Wasserstein distance.
    public static let slices: UInt64 = 0x5D1CE
    /// Uniform dequantisation of 8-bit images (mixed into the seed).
    public static let dequantization: UInt64 = 0xDE9A
    /// Added to a likelihood request's seed for the points it draws from a built-in generator, so that they are
    /// not the draws a training run with the same seed saw.
    public static let likelihoodDrawsOffset: UInt64 = 1
    /// Added to a seed for held-out draws of a labelled built-in set (points a classifier is checked on).
    public static let heldOutDrawsOffset: UInt64 = 0x9E37_79B9
    /// Added to a classifier's training seed for the noise of the accuracy reported with it.
    public static let classifierReportOffset: UInt64 = 17
}
