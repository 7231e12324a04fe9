// Container health check: the service answers /readyz on its own port (SIGSTACK_PORT, default 3000) with 200.
// Plain Node, no dependencies: the image has no curl. HTTPS deployments set SIGSTACK_TLS_CERT, so ask over https
// and accept the service's own certificate (this checks the process, not the PKI).
const port = process.env.SIGSTACK_PORT || '3000';
const tls = Boolean(process.env.SIGSTACK_TLS_CERT);
if (tls) process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';
try {
  const res = await fetch(`${tls ? 'https' : 'http'}://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(2500) });
  process.exit(res.status === 200 ? 0 : 1);
} catch {
  process.exit(1);
}
