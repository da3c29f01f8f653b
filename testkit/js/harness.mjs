// Real processes for the JavaScript test suites (the browser SDK's and the
// server's page tests): `chorus` nodes, nats-server, a TCP balancer, tokens.
// Node.js built-ins only, so any package can import it by relative path.
//
// Binaries: CHORUS_BIN (default target/debug/chorus) and CHORUS_NATS_SERVER
// (default target/tools/bin/nats-server, installed by scripts/setup).
import { spawn } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root. */
export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const chorusBin = process.env.CHORUS_BIN || path.join(root, 'target/debug/chorus');
export const natsBin = process.env.CHORUS_NATS_SERVER || path.join(root, 'target/tools/bin/nats-server');
/** Writes a CA and a certificate for 127.0.0.1 and localhost (testkit's `chorus-certs`). */
export const certsBin = process.env.CHORUS_CERTS_BIN || path.join(root, 'target/debug/chorus-certs');
/** Generous: a loaded CI machine may be slow, and nothing here sleeps. */
export const DEADLINE = 45000;

/** A fresh temporary directory, removed by the returned function. */
export function tempDir(prefix) {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A secret for HS256 tokens (prefixed with letters, so CHORUS_* variables read it as a string). */
export function newSecret() {
  return 'test-secret-' + randomBytes(24).toString('hex');
}

/** An HS256 token for `sub`, valid for an hour unless `claims` says otherwise. */
export function token(secret, sub, claims = {}) {
  const part = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const body = { sub, exp: Math.floor(Date.now() / 1000) + 3600, ...claims };
  const unsigned = `${part({ alg: 'HS256', typ: 'JWT' })}.${part(body)}`;
  const signature = createHmac('sha256', secret).update(unsigned).digest('base64url');
  return `${unsigned}.${signature}`;
}

/** Rejects after DEADLINE with `what` unless `promise` settles first. */
export function deadline(promise, what, ms = DEADLINE) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** A child process whose output is kept for failure reports. */
export function launch(name, bin, args, options = {}) {
  const child = spawn(bin, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
  const proc = { name, child, output: '', exited: false };
  proc.exit = new Promise((resolve) => {
    child.on('exit', resolve);
    // A binary that cannot start (not built yet) ends the process at once.
    child.on('error', (e) => {
      proc.output += `cannot start ${bin}: ${e.message}\n`;
      child.emit('exit', null);
    });
  });
  proc.exit.then(() => {
    proc.exited = true;
  });
  child.stdout.on('data', (d) => (proc.output += d));
  child.stderr.on('data', (d) => (proc.output += d));
  return proc;
}

/** Resolves with the first match of `pattern` in the output of `proc` (searching from `from`). */
export function waitForOutput(proc, pattern, from = 0) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => finish(new Error(`${proc.name}: no ${pattern} within ${DEADLINE} ms:\n${proc.output}`)), DEADLINE);
    const check = () => {
      const m = proc.output.slice(from).match(pattern);
      if (m) finish(null, m);
    };
    const onExit = (code) => finish(new Error(`${proc.name} exited (${code}) before ${pattern}:\n${proc.output}`));
    function finish(err, m) {
      clearTimeout(timer);
      proc.child.stdout.off('data', check);
      proc.child.stderr.off('data', check);
      proc.child.off('exit', onExit);
      if (err) reject(err);
      else resolve(m);
    }
    proc.child.stdout.on('data', check);
    proc.child.stderr.on('data', check);
    proc.child.on('exit', onExit);
    check();
  });
}

/** SIGTERM, then SIGKILL if the process has not exited within 10 s. */
export async function stop(proc) {
  if (proc.exited) return;
  proc.child.kill('SIGTERM');
  const timer = setTimeout(() => proc.child.kill('SIGKILL'), 10000);
  await proc.exit;
  clearTimeout(timer);
}

/** SIGKILL: the process gets no chance to say goodbye. */
export async function kill(proc) {
  if (proc.exited) return;
  proc.child.kill('SIGKILL');
  await proc.exit;
}

/** A nats-server with JetStream on a free loopback port, its store in `dir`. */
export async function startNats(dir) {
  const proc = launch('nats-server', natsBin, ['-a', '127.0.0.1', '-p', '-1', '-js', '-sd', path.join(dir, 'jetstream')], { cwd: dir });
  const [, port] = await waitForOutput(proc, /Listening for client connections on 127\.0\.0\.1:(\d+)/);
  await waitForOutput(proc, /Server is ready/);
  return { proc, url: `nats://127.0.0.1:${port}` };
}

/**
 * A `chorus` node. `listen` defaults to a free port; `nats` switches it to the
 * cluster broker; `env` adds CHORUS_* settings; `args` adds flags.
 * Resolves with `{proc, addr, base, ws}` once it listens.
 */
export async function startChorus({ name = 'chorus', listen = '127.0.0.1:0', nats, env = {}, args = [], cwd, tls } = {}) {
  const fullArgs = ['--listen', listen, ...(nats ? ['--nats', nats] : []), ...args];
  const tlsEnv = tls ? { CHORUS_TLS__CERT_FILE: path.join(tls, 'cert.pem'), CHORUS_TLS__KEY_FILE: path.join(tls, 'key.pem') } : {};
  const proc = launch(name, chorusBin, fullArgs, {
    cwd,
    env: { ...process.env, NO_COLOR: '1', CHORUS_LOG: 'info', CHORUS_LIMITS__SHUTDOWN_TIMEOUT_MS: '2000', ...tlsEnv, ...env },
  });
  const [, scheme, addr] = await waitForOutput(proc, /WebSocket at (wss?):\/\/([0-9.]+:\d+)\//);
  if (tls && scheme !== 'wss') throw new Error(`${name} was given a certificate but serves ${scheme}://`);
  if (tls) {
    // The certificate names localhost and 127.0.0.1; browsers check the name.
    const port = addr.split(':')[1];
    return { proc, addr, base: `https://localhost:${port}`, ws: `wss://localhost:${port}/ws` };
  }
  return { proc, addr, base: `http://${addr}`, ws: `ws://${addr}/ws` };
}

/** A directory with `ca.pem`, `cert.pem` and `key.pem` made for this run (see `certsBin`). */
export async function makeCertificates() {
  const { dir, remove } = tempDir('chorus-certs-');
  const proc = launch('chorus-certs', certsBin, [dir]);
  const code = await proc.exit;
  if (code !== 0) throw new Error(`chorus-certs exited with ${code}: ${proc.output}`);
  return { dir, remove };
}

/**
 * A TCP balancer on a free loopback port: each new connection goes to the
 * first upstream that accepts it, as a load balancer with health checks would.
 */
export async function startBalancer(upstreams) {
  const sockets = new Set();
  const server = net.createServer((client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.pause();
    const tryNext = (i) => {
      if (i >= upstreams.length) {
        client.destroy();
        return;
      }
      const [host, port] = upstreams[i].split(':');
      const upstream = net.connect(Number(port), host);
      upstream.once('error', () => tryNext(i + 1));
      upstream.once('connect', () => {
        upstream.removeAllListeners('error');
        sockets.add(upstream);
        upstream.on('close', () => {
          sockets.delete(upstream);
          client.destroy();
        });
        client.on('close', () => upstream.destroy());
        upstream.on('error', () => client.destroy());
        client.on('error', () => upstream.destroy());
        client.pipe(upstream).pipe(client);
        client.resume();
      });
    };
    tryNext(0);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  return {
    addr: `127.0.0.1:${port}`,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(resolve));
    },
  };
}
