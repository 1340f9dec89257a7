// The tiny program that runs first inside a proxied sandbox: it is the only door from the
// sandbox's empty network namespace to Tollgate's egress proxy (a unix socket bind-mounted in).

/**
 * CommonJS source, run by the host's node inside the sandbox as `node bridge.cjs CMD ARGS...`.
 * It listens on 127.0.0.1:<ephemeral> in the sandbox netns, pipes each connection to the proxy's
 * unix socket, then starts the user's command with the *_PROXY variables pointing at itself and
 * exits with that command's status.
 */
export const BRIDGE_SOURCE = String.raw`'use strict';
const net = require('node:net');
const { spawn } = require('node:child_process');
const socketPath = process.env.TOLLGATE_EGRESS_SOCKET;
delete process.env.TOLLGATE_EGRESS_SOCKET;
const server = net.createServer((inside) => {
  const proxy = net.connect(socketPath);
  inside.pipe(proxy);
  proxy.pipe(inside);
  inside.on('error', () => proxy.destroy());
  proxy.on('error', () => inside.destroy());
});
server.on('error', (err) => {
  process.stderr.write('tollgate: egress bridge failed to start: ' + err.message + '\n');
  process.exit(125);
});
server.listen(0, '127.0.0.1', () => {
  const url = 'http://127.0.0.1:' + server.address().port;
  const env = { ...process.env };
  for (const name of ['HTTP_PROXY', 'HTTPS_PROXY', 'http_proxy', 'https_proxy', 'ALL_PROXY', 'all_proxy']) env[name] = url;
  env.NO_PROXY = '';
  env.no_proxy = '';
  const child = spawn(process.argv[2], process.argv.slice(3), { stdio: 'inherit', env });
  child.on('error', (err) => {
    process.stderr.write('tollgate: could not start command: ' + err.message + '\n');
    process.exit(127);
  });
  child.on('exit', (code, signal) => {
    if (signal) {
      process.removeAllListeners(signal);
      process.kill(process.pid, signal);
    }
    process.exit(code === null ? 128 : code);
  });
});
`;
