// The processes and the browser the e2e tests drive: real binaries on free
// loopback ports, their output kept for failure reports, and headless Chromium.
//
// Binaries: CHORUS_BIN (default target/debug/chorus), the example apps from
// target/debug (EXAMPLES_DIR overrides the directory), CHROMIUM (default
// /usr/bin/chromium).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

/** The repository's root. */
export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
/** The `chorus` binary. */
export const chorusBin = process.env.CHORUS_BIN || path.join(root, 'target/debug/chorus');
/** Generous: a loaded CI machine may be slow, and nothing here sleeps. */
export const DEADLINE = 45000;

/** A child process whose output is kept for failure reports. */
export function launch(name, bin, args, options) {
  const child = spawn(bin, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
  const proc = { name, child, output: '', exited: false };
  const exited = new Promise((resolve) => child.on('exit', resolve));
  proc.exit = exited;
  exited.then(() => {
    proc.exited = true;
  });
  child.stdout.on('data', (d) => (proc.output += d));
  child.stderr.on('data', (d) => (proc.output += d));
  return proc;
}

/** Resolves with the first match of `pattern` in the output of `proc`. */
export function waitForOutput(proc, pattern) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => finish(new Error(`${proc.name}: no ${pattern} within ${DEADLINE} ms:\n${proc.output}`)), DEADLINE);
    const check = () => {
      const m = proc.output.match(pattern);
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

/** Headless Chromium. */
export function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
  });
}

/**
 * `chorus --dev` on a free port, as the README runs it, with a temporary
 * directory of its own: that is where it writes its credentials file, so the
 * apps started by `startApp` find its keys the way they do on a laptop.
 * Resolves with `{ proc, base, tmp, close }`.
 */
export async function startDevNode() {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'chorus-e2e-'));
  // Its kept development keys go to the temporary directory too, not the user's.
  const env = { ...process.env, TMPDIR: tmp, XDG_STATE_HOME: tmp, NO_COLOR: '1', CHORUS_LOG: 'info' };
  const proc = launch('chorus', chorusBin, ['--dev', '--listen', '127.0.0.1:0'], { cwd: tmp, env });
  const [, addr] = await waitForOutput(proc, /ws:\/\/([0-9.]+:[0-9]+)\//);
  await waitForOutput(proc, /credentials/);
  const close = async () => {
    await stop(proc);
    rmSync(tmp, { recursive: true, force: true });
  };
  return { proc, base: `http://${addr}`, tmp, close };
}

/**
 * The example app `chorus-example-<name>` against `node` (from
 * `startDevNode`), on a free port, with `args` added to its command line.
 * Resolves with `{ proc, base }` once it serves its page.
 */
export async function startApp(name, node, args = []) {
  const dir = process.env.EXAMPLES_DIR || path.join(root, 'target/debug');
  const env = { ...process.env, TMPDIR: node.tmp, NO_COLOR: '1' };
  delete env.CHORUS_SERVER;
  delete env.CHORUS_API_KEY;
  delete env.CHORUS_AUTH__HMAC_SECRET;
  const proc = launch(name, path.join(dir, `chorus-example-${name}`), ['--server', node.base, '--listen', '127.0.0.1:0', ...args], {
    cwd: node.tmp,
    env,
  });
  const [, base] = await waitForOutput(proc, /open (http:\/\/[0-9.]+:[0-9]+)\//);
  return { proc, base };
}
