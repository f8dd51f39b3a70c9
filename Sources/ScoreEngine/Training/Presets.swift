/// A named recipe: the fields of a training request (fields sent beside it override them), and the sampler
/// settings that go with it, which become the defaults of the models it trains and which `/samples?preset=`
/// and `scored sample --preset` apply.
public struct Preset: Sendable {
    public let name: String
    public let summary: String
    /// Where the numbers come from.
    public let source: String
    public let kind: DataKind
    /// The recipe in a request's shape.
    public let recipe: JSONValue
    public let sampling: Sampling

    public struct Sampling: Sendable {
        /// The sampler used when a request names none.
        public let sampler: String
        /// Parameters per sampler, over the sampler's own defaults.
        public let parameters: [String: [String: JSONValue]]
        /// Samples per request when a request names no n.
        public let n: Int?
    }

    public var json: JSONValue {
        var sampling: [String: JSONValue] = [
            "sampler": .string(self.sampling.sampler),
            "parameters": .object(self.sampling.parameters.mapValues { .object($0) }),
        ]
        if let n = self.sampling.n { sampling["n"] = .number(Double(n)) }
        return ["name": .string(name), "summary": .string(summary), "source": .string(source), "kind": .string(kind.rawValue),
                "recipe": recipe, "sampling": .object(sampling)]
    }
}

/// The presets: one per recipe of the reference tutorials, and this project's own defaults.
public enum Presets {
    public static let all: [Preset] = [
        // Yang Song's score-matching tutorial as written in ../shared/bench/torch_toy2d.py (1): exact (Hyvärinen)
        // score matching on the swiss roll (sklearn's make_swiss_roll(1000, noise=1.0), columns 0 and 2, / 10),
        // MLP 2-64-64-64-2 with LogSigmoid, Adam 3e-4, batch 32, 5000 epochs of 32 batches = 160 000 steps; then
        // Langevin dynamics with ε = 1e-3 for 1000 steps from a uniform start on [−1, 1]².
        Preset(name: "tutorial_exact_swiss_roll", summary: "exact score matching on the swiss roll, then Langevin dynamics",
               source: "score-matching tutorial (../shared/bench/torch_toy2d.py, recipe 1)", kind: .points,
               recipe: ["dataset": "swiss_roll", "dataset_size": 1000, "objective": "exact",
                        "model": ["hidden": [64, 64, 64], "activation": "log_sigmoid", "preconditioning": false],
                        "steps": 160_000, "batch_size": 32, "learning_rate": 3e-4, "warmup": 0, "lr_schedule": "constant",
                        "grad_clip": 0, "ema": 0],
               sampling: .init(sampler: "langevin",
                               parameters: ["langevin": ["step_size": 1e-3, "steps": 1000, "init": "uniform", "init_range": 1]],
                               n: 1000)),
        // The same tutorial's denoising score matching (../shared/bench/torch_toy2d.py, recipe 2): one σ = 0.1,
        // MLP 2-32-32-32-2 with ReLU, Adam 1e-3, batch 100, 10 000 steps; here on the Langevin tutorial's donut
        // p(x) ∝ exp(−(|x| − 2.6)²/0.033), sampled as that tutorial does: Langevin with ε = 1e-2, 1000 steps,
        // 10 000 particles from N(0, I). The same sampler runs on the analytic donut (`/samples?target=donut`).
        Preset(name: "tutorial_dsm_donut", summary: "denoising score matching with one σ = 0.1 on the donut, then Langevin dynamics",
               source: "score-matching tutorial (../shared/bench/torch_toy2d.py, recipe 2) and the Langevin tutorial's donut", kind: .points,
               recipe: ["dataset": "donut", "dataset_size": 1000, "objective": "dsm", "sigma": 0.1,
                        "model": ["hidden": [32, 32, 32], "activation": "relu", "preconditioning": false],
                        "steps": 10_000, "batch_size": 100, "learning_rate": 1e-3, "warmup": 0, "lr_schedule": "constant",
                        "grad_clip": 0, "ema": 0],
               sampling: .init(sampler: "langevin",
                               parameters: ["langevin": ["step_size": 1e-2, "steps": 1000, "init": "gaussian", "init_std": 1]],
                               n: 10_000)),
        // NCSN (Song & Ermon 2019, §5): L = 10 noise levels in a geometric sequence from σ₁ = 1 to σ₁₀ = 0.01
        // (ratio 0.01^(1/9) ≈ 0.5995), λ(σ) = σ², annealed Langevin dynamics with T = 100 steps per level and
        // ε = 2e-5 (their Algorithm 1). On the swiss roll with this project's MLP and optimiser.
        Preset(name: "ncsn_swiss_roll", summary: "NCSN: 10 noise levels from 1 to 0.01, annealed Langevin dynamics",
               source: "Song & Ermon 2019, Algorithm 1 and §4", kind: .points,
               recipe: ["dataset": "swiss_roll", "objective": "ncsn", "sigma_min": 0.01, "sigma_max": 1, "levels": 10,
                        "steps": 5000],
               sampling: .init(sampler: "annealed_langevin",
                               parameters: ["annealed_langevin": ["steps": 100, "step_size": 2e-5, "denoise": true]], n: nil)),
        // The score SDE tutorial notebook on MNIST (../shared/bench/torch_scorenet.py): the U-Net ScoreNet, VE SDE
        // σ 0.01 … 22, time embedding 256 with Fourier scale 8, Adam 1e-4, batch 32, 50 epochs (93 750 steps),
        // no EMA; predictor–corrector with snr 0.16 and 500 steps, ε = 1e-3; the ODE by RK45 at rtol = atol = 1e-5.
        Preset(name: "notebook_mnist", summary: "the score SDE notebook's U-Net on MNIST (50 epochs)",
               source: "score SDE tutorial notebook (../shared/bench/torch_scorenet.py)", kind: .images,
               recipe: ["dataset": "mnist", "objective": "dsm", "sde": "ve", "sigma_min": 0.01, "sigma_max": 22,
                        "model": ["channels": [32, 64, 128, 256], "time_features": 256, "fourier_scale": 8, "preconditioning": false],
                        "steps": 93_750, "batch_size": 32, "learning_rate": 1e-4, "warmup": 0, "lr_schedule": "constant",
                        "grad_clip": 0, "ema": 0],
               sampling: .init(sampler: "pc",
                               parameters: ["pc": ["steps": 500, "snr": 0.16, "eps_end": 1e-3],
                                            "ode": ["solver": "rk45", "rtol": 1e-5, "atol": 1e-5, "eps_end": 1e-3]],
                               n: 64)),
        // This project's defaults for points: the VE SDE with σ_max from the data, an MLP 2-128-128-128-2 (SiLU, the
        // noise level projected into every layer), Adam 3e-3 with cosine decay, batch 256, 5000 steps (about 5 s on two
        // cores), EMA 0.99: energy distance within 2× the data's floor on every built-in set by Euler–Maruyama.
        Preset(name: "default_points", summary: "this project's defaults for 2-D data (about 5 s of training)",
               source: "this project (docs/benchmarks.md, sample quality)", kind: .points,
               recipe: ["dataset": "swiss_roll"], sampling: .init(sampler: "dpm_solver", parameters: [:], n: nil)),
        // This project's defaults for images: the notebook's U-Net and SDE with Adam 5e-4 after a 500-step warm-up,
        // cosine decay, gradient clipping at 1 and an EMA of 0.999, for 20 000 steps of batch 32 (about 10.7 epochs).
        Preset(name: "default_images", summary: "this project's defaults for MNIST (20 000 steps)",
               source: "this project (docs/benchmarks.md, MNIST)", kind: .images,
               recipe: ["dataset": "mnist"], sampling: .init(sampler: "dpm_solver", parameters: [:], n: nil)),
    ]

    public static func named(_ name: String) -> Preset? { all.first { $0.name == name } }
}
