import ArgumentParser
import Foundation
import ScoreEngine

struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Score a point cloud against fresh data of a built-in set: energy distance and sliced W1, each beside the data's own floor at the same size.")

    @Option(help: "A JSON point cloud (the output of `scored sample`).") var samples: String
    @Option(help: "The built-in data set to compare with.") var dataset = "swiss_roll"
    @Option(help: "Seed of the fresh data draws.") var seed: UInt64 = 12345
    @Option(help: "Independent fresh references to average over.") var replicates = 8

    func run() throws {
        guard let toy = Toy2D(rawValue: dataset) else {
            throw ValidationError("unknown data set \(dataset) (\(Toy2D.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        let x = try PointCloud.parseJSON(Data(contentsOf: URL(fileURLWithPath: samples)))
        var rng = Philox(seed: seed).derived(RandomPurpose.evaluationData)
        let r = SampleQuality.report(samples: x, replicates: replicates) { toy.sample($0, rng: &rng) }
        print(String(format: "samples %d vs fresh %@ (means over %d fresh references, ± standard error)", x.shape[0], dataset, replicates))
        print(String(format: "energy distance      %.5f ± %.5f   data floor %.5f ± %.5f   ratio %.2f",
                     r.energyDistance, r.energyDistanceSE, r.energyDistanceFloor, r.energyDistanceFloorSE,
                     r.energyDistance / r.energyDistanceFloor))
        print(String(format: "sliced Wasserstein-1 %.5f ± %.5f   data floor %.5f ± %.5f   ratio %.2f",
                     r.slicedWasserstein1, r.slicedWasserstein1SE, r.slicedWasserstein1Floor, r.slicedWasserstein1FloorSE,
                     r.slicedWasserstein1 / r.slicedWasserstein1Floor))
    }
}
