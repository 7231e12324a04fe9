import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * One Prometheus registry per running stack, never prom-client's global one: tests run several stacks in one
 * process, and two stacks sharing a registry would both fail to register and mix their numbers.
 * Every label has a bounded set of values: routes are the router's patterns, never raw paths (an attacker
 * choosing the path must not be able to grow the registry without limit).
 */
export interface StackMetrics {
  registry: Registry;
  requestDuration: Histogram<'method' | 'route' | 'status'>;
  certificatesIssued: Counter<'issuer' | 'type'>;
  rejections: Counter<'code' | 'route'>;
  appendDuration: Histogram<'log'>;
  proofDuration: Histogram<'log' | 'kind'>;
  logSize: Gauge<'log'>;
  /** Tree sizes read at scrape time, one function per log. */
  watchLogSize(log: string, size: () => number): void;
}

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export function createMetrics(): StackMetrics {
  const registry = new Registry();
  const sizes = new Map<string, () => number>();
  const logSize = new Gauge({
    name: 'sigstack_log_size',
    help: 'Committed entries in each Merkle tree',
    labelNames: ['log'] as const,
    registers: [registry],
    collect() {
      for (const [log, size] of sizes) {
        try {
          this.set({ log }, size());
        } catch {
          // a closed database during shutdown: leave the last value
        }
      }
    },
  });
  return {
    registry,
    requestDuration: new Histogram({
      name: 'sigstack_http_request_duration_seconds',
      help: 'HTTP request latency by matched route pattern',
      labelNames: ['method', 'route', 'status'] as const,
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
    certificatesIssued: new Counter({
      name: 'sigstack_certificates_issued_total',
      help: 'Signing certificates issued, by OIDC issuer and issuer type',
      labelNames: ['issuer', 'type'] as const,
      registers: [registry],
    }),
    rejections: new Counter({
      name: 'sigstack_rejections_total',
      help: 'Requests refused, by error code and route pattern',
      labelNames: ['code', 'route'] as const,
      registers: [registry],
    }),
    appendDuration: new Histogram({
      name: 'sigstack_log_append_duration_seconds',
      help: 'Time from append to durable commit, per log',
      labelNames: ['log'] as const,
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
    proofDuration: new Histogram({
      name: 'sigstack_log_proof_duration_seconds',
      help: 'Time to compute an inclusion or consistency proof, per log',
      labelNames: ['log', 'kind'] as const,
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1],
      registers: [registry],
    }),
    logSize,
    watchLogSize: (log, size) => void sizes.set(log, size),
  };
}
