import Foundation
import HTTPServer
import ScoreEngine

/// Routes requests by method and path pattern (`/jobs/{id}/events`): 404 for unknown paths, 405 with `Allow`
/// for known paths with another method, HEAD answered as GET. Handlers throw `APIError`s (and
/// `InvalidParameter`s, answered as 400 naming the field); anything else becomes a 500. Every request passes
/// through the middleware chain, outermost first, with the pattern it matched.
final class Router: HTTPResponder, @unchecked Sendable {
    typealias Handler = @Sendable (HTTPRequest, [String: String]) async throws -> HTTPResponse

    struct Route {
        let method: String
        let pattern: String
        let segments: [Substring]
        /// The query parameters it takes, for the OpenAPI description (nil: none declared).
        let query: (@Sendable () -> [Parameter])?
        /// The scope a key needs to call it (nil: anyone, with or without a key).
        let scope: Scope?
        /// Runs on the connection's event loop: it answers from memory (no store query, no file, nothing to compute
        /// beyond a small JSON document). The other handlers run on the server's handler threads, where blocking on
        /// the store's lock or a file, or computing, holds up no loop.
        let quick: Bool
        /// A POST that queues a job and takes an `Idempotency-Key` header: retried with the same key, it
        /// answers with the job it made the first time instead of queuing another (`HTTPRequest.idempotencyKey`).
        let idempotent: Bool
        /// Reads its body as it arrives (`RequestBody.read(at:upTo:)`); the others are called once the body is all
        /// there.
        let streamsBody: Bool
        let handler: Handler
    }

    /// Who may call a route: anyone (the page, health, the description), or keys of a scope.
    enum Access {
        case anyone
        case scope(Scope)
        /// `read` for GET, `submit` for the other methods.
        case byMethod
    }

    private(set) var routes: [Route] = []
    private var middleware: [any Middleware] = []

    /// Adds a route; `query` declares its query parameters for the OpenAPI description, `access` who may call it.
    func add(_ method: String, _ pattern: String, access: Access = .byMethod, query: (@Sendable () -> [Parameter])? = nil,
             quick: Bool = false, idempotent: Bool = false, streamsBody: Bool = false, _ handler: @escaping Handler) {
        let scope: Scope?
        switch access {
        case .anyone: scope = nil
        case .scope(let s): scope = s
        case .byMethod: scope = method == "GET" ? .read : .submit
        }
        routes.append(Route(method: method, pattern: pattern, segments: pattern.split(separator: "/"), query: query, scope: scope,
                            quick: quick, idempotent: idempotent, streamsBody: streamsBody, handler: handler))
    }

    /// The route answering `method` on `pattern` (HEAD as GET).
    func route(_ method: String, _ pattern: String) -> Route? {
        let m = method == "HEAD" ? "GET" : method
        return routes.first { $0.method == m && $0.pattern == pattern }
    }

    func add(_ collection: some RouteCollection) { collection.register(on: self) }

    /// Wraps every request (the first added is the outermost).
    func use(_ m: any Middleware) { middleware.append(m) }

    /// The methods a pattern is answered for (HEAD with GET).
    func methods(for pattern: String) -> [String] {
        var m = Set(routes.filter { $0.pattern == pattern }.map(\.method))
        if m.contains("GET") { m.insert("HEAD") }
        return m.sorted()
    }

    /// Every (method, pattern) answered, for the OpenAPI check.
    var table: [(method: String, pattern: String, idempotent: Bool)] { routes.map { ($0.method, $0.pattern, $0.idempotent) } }

    static func match(_ route: Route, _ parts: [Substring]) -> [String: String]? {
        guard route.segments.count == parts.count else { return nil }
        var params: [String: String] = [:]
        for (s, p) in zip(route.segments, parts) {
            if s.first == "{" && s.last == "}" {
                guard !p.isEmpty else { return nil }
                params[String(s.dropFirst().dropLast())] = String(p)
            } else if s != p {
                return nil
            }
        }
        return params
    }

    func respond(to request: HTTPRequest) async -> HTTPResponse {
        let parts = request.path.split(separator: "/")
        let method = request.method == "HEAD" ? "GET" : request.method
        // The first route of the method whose pattern matches (without copying the others).
        var found: (index: Int, params: [String: String])? = nil
        for i in routes.indices where routes[i].method == method {
            if let p = Router.match(routes[i], parts) { found = (i, p); break }
        }
        let pattern: String
        let run: @Sendable () async -> HTTPResponse
        // Without one: the routes of other methods on that path (405), if any.
        let candidates = found == nil ? routes.filter { Router.match($0, parts) != nil } : []
        if let (index, params) = found {
            let route = routes[index]
            pattern = route.pattern
            // A large body may still be arriving: the handler waits for it (awaiting: no thread is held) unless it
            // reads it as it comes.
            let body = request.bodyStorage, whole = !route.streamsBody
            if route.quick || request.handlerExecutor == nil {
                run = {
                    await Router.answer(request) {
                        if whole { try await Router.awaitBody(body) }
                        return try await route.handler(request, params)
                    }
                }
            } else {
                let pool = request.handlerExecutor!
                run = {
                    await withTaskExecutorPreference(pool) {
                        await Router.answer(request) {
                            if whole {
                                try await Router.awaitBody(body)
                                // A spooled upload is read in here, off the loop; one that cannot be read whole is refused.
                                guard body.data.count == body.count else {
                                    throw APIError(status: 500, code: "internal", message: "the request body could not be read back from its spool file")
                                }
                            }
                            return try await route.handler(request, params)
                        }
                    }
                }
            }
        } else if !candidates.isEmpty {
            pattern = candidates[0].pattern
            var allowed = Set(candidates.map(\.method))
            if allowed.contains("GET") { allowed.insert("HEAD") }
            var e = APIError(status: 405, code: "method_not_allowed", message: "\(request.method) is not allowed on \(request.path)")
            e.headers = [("Allow", allowed.sorted().joined(separator: ", "))]
            let answer = e.response
            run = { answer }
        } else {
            pattern = "unmatched"
            run = { APIError.notFound("no route for \(request.path)").response }
        }
        var next = run
        for m in middleware.reversed() {
            let inner = next
            next = { await m.respond(to: request, route: pattern, next: inner) }
        }
        return await next()
    }

    /// Waits until the whole body has arrived.
    static func awaitBody(_ body: RequestBody) async throws {
        do { try await body.whole() } catch let e as RequestBodyIncomplete {
            throw APIError(status: 400, code: "bad_request", message: e.description)
        }
    }

    /// A handler's answer, or its error as JSON.
    static func answer(_ request: HTTPRequest, _ body: () async throws -> HTTPResponse) async -> HTTPResponse {
        do {
            return try await body()
        } catch let e as APIError {
            return e.response
        } catch let e as InvalidParameter {
            return APIError.invalid(e.field, e.message).response
        } catch let e as RequestBodyIncomplete {
            return APIError(status: 400, code: "bad_request", message: e.description).response
        } catch {
            return APIError(status: 500, code: "internal", message: "\(error)").response
        }
    }
}

/// A set of routes with the dependencies they use (one per resource).
protocol RouteCollection {
    func register(on router: Router)
}

/// Code around every request: given the request and the route pattern it matched, it calls `next` for the
/// answer (or answers itself).
protocol Middleware: Sendable {
    func respond(to request: HTTPRequest, route: String, next: @Sendable () async -> HTTPResponse) async -> HTTPResponse
}
