// TCP forwarder for the multi-host lab: `node forward.mjs LISTEN_HOST LISTEN_PORT TARGET_HOST TARGET_PORT`.
// The Temporal CLI's dev server (v1.5.1) dials its own internal services at 127.0.0.1 whatever `--ip` says, so
// it only works on loopback; the lab runs it there and forwards the bridge address to it. Each accepted
// connection gets its own upstream connection; either side closing or failing closes both.
import net from 'node:net';

const [listenHost, listenPort, targetHost, targetPort] = process.argv.slice(2);
const server = net.createServer((down) => {
  const up = net.connect(Number(targetPort), targetHost);
  down.setNoDelay(true);
  up.setNoDelay(true);
  down.pipe(up);
  up.pipe(down);
  const close = () => { down.destroy(); up.destroy(); };
  down.on('error', close).on('close', close);
  up.on('error', close).on('close', close);
});
server.listen(Number(listenPort), listenHost, () => console.log(`forwarding ${listenHost}:${listenPort} -> ${targetHost}:${targetPort}`));
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(0));
