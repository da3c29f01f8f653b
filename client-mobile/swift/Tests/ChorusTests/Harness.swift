// Real processes for the Swift tests, mirroring the Kotlin suite's harness:
// chorus nodes, nats-server, tokens, and listeners whose events a test awaits.
// Binaries: CHORUS_BIN (default target/debug/chorus) and CHORUS_NATS_SERVER
// (default target/tools/bin/nats-server), relative to the repository root.
import CryptoKit
import Foundation
import XCTest

import Chorus

/// Generous: a loaded CI machine may be slow, and nothing here sleeps.
let deadlineSeconds: Double = 45

/// The repository root (this file is client-mobile/swift/Tests/ChorusTests/Harness.swift).
let repositoryRoot = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent()

func binary(_ variable: String, _ fallback: String) -> String {
    ProcessInfo.processInfo.environment[variable] ?? repositoryRoot.appendingPathComponent(fallback).path
}

struct HarnessError: Error, CustomStringConvertible {
    let description: String
}

/// A child process whose output is kept for failure reports and searched for readiness lines.
final class Proc: @unchecked Sendable {
    let name: String
    let process = Process()
    private let condition = NSCondition()
    private var output = ""

    init(_ name: String, _ arguments: [String], env: [String: String] = [:], dir: URL? = nil) throws {
        self.name = name
        process.executableURL = URL(fileURLWithPath: arguments[0])
        process.arguments = Array(arguments.dropFirst())
        process.environment = ProcessInfo.processInfo.environment.merging(env) { _, new in new }
        if let dir { process.currentDirectoryURL = dir }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        pipe.fileHandleForReading.readabilityHandler = { [weak self] handle in
            guard let self else { return }
            let chunk = String(decoding: handle.availableData, as: UTF8.self)
            self.condition.lock()
            self.output += chunk
            self.condition.broadcast()
            self.condition.unlock()
        }
        process.terminationHandler = { [weak self] _ in
            guard let self else { return }
            self.condition.lock()
            self.condition.broadcast()
            self.condition.unlock()
        }
        do {
            try process.run()
        } catch {
            throw HarnessError(description: "\(name): cannot start \(arguments[0]) (built? see docs/mobile.md): \(error)")
        }
    }

    /// The first capture group of `pattern` in the output, waiting up to the deadline.
    func waitFor(_ pattern: String) throws -> String {
        let regex = try NSRegularExpression(pattern: pattern)
        let end = Date().addingTimeInterval(deadlineSeconds)
        condition.lock()
        defer { condition.unlock() }
        while true {
            let range = NSRange(output.startIndex..., in: output)
            if let m = regex.firstMatch(in: output, range: range) {
                let group = m.numberOfRanges > 1 ? m.range(at: 1) : m.range
                return String(output[Range(group, in: output)!])
            }
            if !process.isRunning {
                throw HarnessError(description: "\(name) exited before \(pattern):\n\(output)")
            }
            if !condition.wait(until: end) {
                throw HarnessError(description: "\(name): no \(pattern) within \(deadlineSeconds) s:\n\(output)")
            }
        }
    }

    /// SIGTERM, then wait for the exit.
    func stop() {
        guard process.isRunning else { return }
        process.terminate()
        process.waitUntilExit()
    }

    /// SIGKILL: no chance to say goodbye.
    func kill() {
        guard process.isRunning else { return }
        Darwin.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}

/// A nats-server with JetStream on a free loopback port, its store under `dir`.
final class Nats {
    let proc: Proc
    let url: String

    init(dir: URL) throws {
        proc = try Proc("nats-server", [
            binary("CHORUS_NATS_SERVER", "target/tools/bin/nats-server"),
            "-a", "127.0.0.1", "-p", "-1", "-js", "-sd", dir.appendingPathComponent("jetstream").path,
        ], dir: dir)
        let port = try proc.waitFor(#"Listening for client connections on 127\.0\.0\.1:(\d+)"#)
        _ = try proc.waitFor("Server is ready")
        url = "nats://127.0.0.1:\(port)"
    }
}

/// Secrets and settings shared by the nodes of one test.
struct Settings {
    let secret = "test-secret-" + UUID().uuidString
    let apiKey = "test-api-key-" + UUID().uuidString

    /// Auth, the server API, and a `chat` namespace with history, presence and join/leave events.
    var env: [String: String] {
        [
            "NO_COLOR": "1",
            "CHORUS_LOG": "info",
            "CHORUS_LIMITS__SHUTDOWN_TIMEOUT_MS": "2000",
            "CHORUS_AUTH__HMAC_SECRET": secret,
            "CHORUS_API_KEY": apiKey,
            "CHORUS_NAMESPACES__CHAT__HISTORY_SIZE": "1000",
            "CHORUS_NAMESPACES__CHAT__HISTORY_TTL_MS": "600000",
            "CHORUS_NAMESPACES__CHAT__PRESENCE": "true",
            "CHORUS_NAMESPACES__CHAT__JOIN_LEAVE": "true",
            "CHORUS_CLUSTER__STORAGE": "memory",
        ]
    }

    /// An HS256 token for `sub`, valid for an hour, signed with `key`.
    func token(_ sub: String, key: String? = nil) -> String {
        func part(_ data: Data) -> String {
            data.base64EncodedString()
                .replacingOccurrences(of: "+", with: "-")
                .replacingOccurrences(of: "/", with: "_")
                .replacingOccurrences(of: "=", with: "")
        }
        let exp = Int(Date().timeIntervalSince1970) + 3600
        let unsigned = part(Data(#"{"alg":"HS256","typ":"JWT"}"#.utf8)) + "." + part(Data(#"{"sub":"\#(sub)","exp":\#(exp)}"#.utf8))
        let mac = HMAC<SHA256>.authenticationCode(for: Data(unsigned.utf8), using: SymmetricKey(data: Data((key ?? secret).utf8)))
        return unsigned + "." + part(Data(mac))
    }
}

/// A chorus node; `listen` defaults to a free port, `nats` switches it to the cluster broker.
final class Node {
    let settings: Settings
    let name: String
    let nats: String?
    let proc: Proc
    let addr: String

    init(_ settings: Settings, name: String = "chorus", listen: String = "127.0.0.1:0", nats: String? = nil) throws {
        self.settings = settings
        self.name = name
        self.nats = nats
        var args = [binary("CHORUS_BIN", "target/debug/chorus"), "--listen", listen]
        if let nats { args += ["--nats", nats] }
        proc = try Proc(name, args, env: settings.env)
        addr = try proc.waitFor(#"WebSocket at ws://([0-9.]+:\d+)/"#)
    }

    var ws: String { "ws://\(addr)/ws" }

    /// A new process on the same address and broker.
    func restarted() throws -> Node {
        try Node(settings, name: "\(name) (restarted)", listen: addr, nats: nats)
    }

    /// Publishes JSON through the server API, as an app's backend would.
    func apiPublish(_ channel: String, _ json: String) async throws {
        try await api("publish", #"{"channel":"\#(channel)","data":\#(json)}"#)
    }

    /// Calls `/api/<method>` of the server API with a JSON body.
    func api(_ method: String, _ body: String) async throws {
        var request = URLRequest(url: URL(string: "http://\(addr)/api/\(method)")!)
        request.httpMethod = "POST"
        request.setValue("apikey \(settings.apiKey)", forHTTPHeaderField: "Authorization")
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.httpBody = Data(body.utf8)
        let (data, response) = try await URLSession.shared.data(for: request)
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        guard status == 200 else {
            throw HarnessError(description: "\(method): \(status) \(String(decoding: data, as: UTF8.self))")
        }
    }
}

/// Events as a listener received them, to be awaited in order.
final class Events<T>: @unchecked Sendable {
    private let what: String
    private let lock = NSLock()
    private var all: [T] = []
    private var pending: [T] = []
    private var waiter: CheckedContinuation<T?, Never>?

    init(_ what: String) { self.what = what }

    /// Every event so far.
    var seen: [T] { lock.withLock { all } }

    func push(_ event: T) {
        lock.lock()
        all.append(event)
        if let waiter {
            self.waiter = nil
            lock.unlock()
            waiter.resume(returning: event)
        } else {
            pending.append(event)
            lock.unlock()
        }
    }

    private func take(timeout: Double) async -> T? {
        await withCheckedContinuation { (continuation: CheckedContinuation<T?, Never>) in
            lock.lock()
            if !pending.isEmpty {
                let event = pending.removeFirst()
                lock.unlock()
                continuation.resume(returning: event)
                return
            }
            waiter = continuation
            lock.unlock()
            DispatchQueue.global().asyncAfter(deadline: .now() + timeout) { [weak self] in
                guard let self else { return }
                self.lock.lock()
                let expired = self.waiter
                self.waiter = nil
                self.lock.unlock()
                expired?.resume(returning: nil)
            }
        }
    }

    /// Skips events until one matches `predicate` and returns it; fails after the deadline.
    func next(_ description: String, where predicate: (T) -> Bool = { _ in true }) async throws -> T {
        let end = Date().addingTimeInterval(deadlineSeconds)
        while true {
            let left = end.timeIntervalSinceNow
            guard left > 0, let event = await take(timeout: left) else {
                throw HarnessError(description: "\(what): timed out waiting for \(description); seen: \(seen)")
            }
            if predicate(event) { return event }
        }
    }
}

/// A ClientListener that records its events.
final class ClientEvents: ClientListener, @unchecked Sendable {
    let events: Events<ClientEvent>
    init(_ name: String) { events = Events("client \(name)") }
    func onEvent(event: ClientEvent) { events.push(event) }

    /// Waits for the state `state` and returns its close info.
    func state(_ state: ConnectionState) async throws -> CloseReason? {
        let event = try await events.next("state \(state)") {
            if case .stateChanged(let s, _) = $0 { return s == state }
            return false
        }
        guard case .stateChanged(_, let close) = event else { return nil }
        return close
    }

    /// The states seen so far, in order.
    func states() -> [ConnectionState] {
        events.seen.compactMap { if case .stateChanged(let s, _) = $0 { return s } else { return nil } }
    }
}

/// A SubscriptionListener that records its events.
final class SubEvents: SubscriptionListener, @unchecked Sendable {
    let events: Events<SubscriptionEvent>
    init(_ name: String) { events = Events("subscription \(name)") }
    func onEvent(event: SubscriptionEvent) { events.push(event) }

    func publication(_ description: String, where predicate: @escaping (Publication) -> Bool = { _ in true }) async throws -> Publication {
        let event = try await events.next(description) {
            if case .published(let p) = $0 { return predicate(p) }
            return false
        }
        guard case .published(let p) = event else { throw HarnessError(description: "unreachable") }
        return p
    }

    func subscribed() async throws -> Recovery {
        let event = try await events.next("subscribed") {
            if case .subscribed = $0 { return true }
            return false
        }
        guard case .subscribed(let recovery) = event else { throw HarnessError(description: "unreachable") }
        return recovery
    }

    /// The publications received so far.
    func publications() -> [Publication] {
        events.seen.compactMap { if case .published(let p) = $0 { return p } else { return nil } }
    }
}

extension Data {
    /// The UTF-8 text of application data.
    var text: String { String(decoding: self, as: UTF8.self) }
}
