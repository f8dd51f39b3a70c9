import Foundation
import ScoreEngine

/// The OpenAPI 3.1 description. `public/openapi.json` holds the hand-written part (paths, responses, the
/// bodies' shapes); what the declarations define is generated into it here: every route's query parameters
/// (from the `query` it was registered with), the training request (`RecipeSchema` and the objective and SDE
/// registries), the likelihood request, the sampler settings and the presets' names, and who may call each route
/// (its `security`: the scope a key needs, with the 401 and 403 answers, or anyone), and the HTTP layer's 414. The server publishes the
/// document so generated, and a test keeps the committed file equal to it (`scored openapi --write` rewrites it).
enum OpenAPIDocument {
    static let idempotencyKeyParameter: JSONValue = [
        "name": "Idempotency-Key", "in": "header", "required": false, "schema": ["type": "string", "maxLength": 200],
        "description": "A retried POST with the same key returns the job it already created (200 with the job, or its result when the request waits) instead of queuing another.",
    ]

    static func generate(skeleton: JSONValue, routes: [Router.Route]) -> JSONValue {
        var doc = skeleton.object ?? [:]
        var paths = doc["paths"]?.object ?? [:]
        for route in routes {
            let method = route.method.lowercased()
            var item = paths[route.pattern]?.object ?? [:]
            var op = item[method]?.object ?? [:]
            if let query = route.query {
                let pathParameters = (op["parameters"]?.array ?? []).filter { $0["in"] == "path" }
                op["parameters"] = .array(pathParameters + query().map(queryParameter))
            }
            // The Idempotency-Key header of the routes that declare it.
            var parameters = (op["parameters"]?.array ?? []).filter { $0["name"] != "Idempotency-Key" }
            if route.idempotent { parameters.append(idempotencyKeyParameter) }
            op["parameters"] = parameters.isEmpty ? nil : .array(parameters)
            // Who may call it: the scope a key needs (and the answers without one), or anyone.
            var responses = op["responses"]?.object ?? [:]
            if let scope = route.scope {
                op["security"] = [["bearerAuth": [.string(scope.rawValue)]]]
                responses["401"] = ["$ref": "#/components/responses/Unauthorized"]
                responses["403"] = ["$ref": "#/components/responses/Forbidden"]
            } else {
                op["security"] = []
            }
            // The HTTP layer's own answer to a request line beyond its limit, whatever the route.
            responses["414"] = ["$ref": "#/components/responses/URITooLong"]
            op["responses"] = .object(responses)
            item[method] = .object(op)
            paths[route.pattern] = .object(item)
        }
        doc["paths"] = .object(paths)
        var components = doc["components"]?.object ?? [:]
        var schemas = components["schemas"]?.object ?? [:]
        schemas["TrainRequest"] = trainRequest
        schemas["LikelihoodRequest"] = object(SamplesController.likelihoodParameters,
                                              description: "POST /likelihood: a model trained on an SDE and the data to evaluate under it.")
        schemas["SamplerSettings"] = samplerSettings
        components["schemas"] = .object(schemas)
        doc["components"] = .object(components)
        return .object(doc)
    }

    static func queryParameter(_ p: Parameter) -> JSONValue {
        var schema = p.schema().object ?? [:]
        schema["description"] = nil
        return ["name": .string(p.key), "in": "query", "required": .bool(p.required), "description": .string(p.documentation()),
                "schema": .object(schema)]
    }

    /// An object schema of declared parameters.
    static func object(_ parameters: [Parameter], description: String) -> JSONValue {
        var properties: [String: JSONValue] = [:]
        for p in parameters { properties[p.key] = p.schema() }
        var o: [String: JSONValue] = ["type": "object", "additionalProperties": false, "description": .string(description),
                                      "properties": .object(properties)]
        let required = parameters.filter(\.required).map { JSONValue.string($0.key) }
        if !required.isEmpty { o["required"] = .array(required) }
        return .object(o)
    }

    /// `POST /train`'s body: the recipe's fields (network ones under `model`), the objectives' and SDEs'.
    static var trainRequest: JSONValue {
        var top: [String: JSONValue] = [:], model: [String: JSONValue] = [:]
        func annotated(_ p: Parameter, _ note: String?) -> JSONValue {
            var s = p.schema().object ?? [:]
            s["default"] = nil
            s["description"] = .string(p.documentation() + (note.map { " (\($0))" } ?? ""))
            return .object(s)
        }
        for f in RecipeSchema.fields {
            let note = f.kinds.count == 1 ? "\(f.kinds[0]) only" : nil
            if f.isNetwork { model[f.parameter.key] = annotated(f.parameter, note) } else { top[f.path] = annotated(f.parameter, note) }
        }
        for (p, owners) in RecipeSchema.perturbationFields { top[p.key] = annotated(p, owners.joined(separator: ", ")) }
        top["preset"] = annotated(RecipeSchema.presetParameter, nil)
        top["model"] = ["type": "object", "additionalProperties": false,
                        "description": "the network: the MLP for points, the U-Net for images", "properties": .object(model)]
        return ["type": "object", "additionalProperties": false, "properties": .object(top),
                "description": .string("Every field is optional; {\"dataset\": \"swiss_roll\"} alone trains the default recipe. Defaults depend on the data set's kind (points or images); a preset fills a whole recipe and the fields sent beside it override it. A field that does not apply to the recipe (its data, objective or SDE) is refused. Jobs echo the effective recipe in this shape.")]
    }

    /// A sampler's settings, as `GET /samples` takes them and a model's `sampler_defaults` show them.
    static var samplerSettings: JSONValue {
        var properties: [String: JSONValue] = [:]
        for p in SamplerDocumentation.unionParameters() {
            var s = p.schema().object ?? [:]
            s["description"] = .string(p.help)
            properties[p.key] = .object(s)
        }
        return ["type": "object", "additionalProperties": false, "properties": .object(properties),
                "description": .string("Settings of the samplers (\(SamplerRegistry.names.joined(separator: ", "))); each takes its own (GET /samplers).")]
    }
}
