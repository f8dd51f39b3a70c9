import Foundation
import ScoreEngine
Engine.configureAllocator()
func evaluate(_ recipe: TrainingRecipe, _ label: String) {
  var rng = Philox(seed: recipe.seed).derived(0xDA7A)
  let data = Toy2D(rawValue: recipe.dataset)!.sample(recipe.datasetSize, rng: &rng)
  let t0 = Date()
  let trainer = try! Trainer(recipe: recipe, data: data)
  try! trainer.run(every: 1000)
  let model = trainer.samplingModel
  var out = "\(label): train \(String(format: "%.1f", Date().timeIntervalSince(t0)))s"
  var r2 = Philox(seed: UInt64(ProcessInfo.processInfo.environment["REF"] ?? "12345")!).derived(0xE7A1)
  let toy = Toy2D(rawValue: recipe.dataset)!
  for name in [SamplerSpec.Name.em, .ode] {
    let s = try! SamplerSpec(name: name).make(for: model)
    let x = try! SamplingRun(sampler: s, count: 2000, seed: 0).run(model, shape: [2]).x
    let rep = SampleQuality.report(samples: x) { toy.sample($0, rng: &r2) }
    out += String(format: " %@ %.2f (ed %.5f±%.5f floor %.5f±%.5f)", name.rawValue, rep.energyDistance / rep.energyDistanceFloor,
                  rep.energyDistance, rep.energyDistanceSE, rep.energyDistanceFloor, rep.energyDistanceFloorSE)
  }
  print(out)
}
let args = CommandLine.arguments
var r = TrainingRecipe()
for a in args.dropFirst() {
  let kv = a.split(separator: "=").map(String.init)
  switch kv[0] {
  case "fs": r.fourierScale = Double(kv[1])!
  case "tf": r.timeFeatures = Int(kv[1])!
  case "lr": r.learningRate = Double(kv[1])!
  case "steps": r.steps = Int(kv[1])!
  case "hidden": r.hidden = kv[1].split(separator: ",").map { Int($0)! }
  case "ema": r.ema = Double(kv[1])!
  case "smax": r.sigmaMax = Double(kv[1])!
  case "smin": r.sigmaMin = Double(kv[1])!
  case "sde": r.sde = .init(rawValue: kv[1])!
  case "act": r.activation = Pointwise(rawValue: kv[1])!
  case "w": r.weighting = .init(rawValue: kv[1])!
  case "data": r.dataset = kv[1]
  case "clip": r.gradClip = Double(kv[1])!
  case "batch": r.batchSize = Int(kv[1])!
  case "cond": r.conditioning = .init(rawValue: kv[1])!
  case "size": r.datasetSize = Int(kv[1])!
  case "seed": r.seed = UInt64(kv[1])!
  case "lrs": r.schedule = .init(rawValue: kv[1])!
  case "pre": r.preconditioning = kv[1] == "1"
  default: fatalError(a)
  }
}
evaluate(r, args.dropFirst().joined(separator: " "))
