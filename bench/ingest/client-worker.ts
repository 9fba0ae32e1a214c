/**
 * The load generator of the ingestion benchmark, run in one worker thread:
 * keep-alive `node:http` connections posting 50-event browser batches to
 * `POST /api/v1/analytics/events/batch`, either closed-loop (every connection
 * sends its next batch as soon as the previous one is answered) or paced
 * open-loop (a fixed request rate, whatever the latency).
 *
 * It tells its parent when the measured window starts and ends (so the parent
 * can sample server CPU and memory over exactly that window) and hands back
 * the latencies of the requests that completed inside it.
 */
import http from 'node:http';
import { parentPort, workerData } from 'node:worker_threads';
import { browserEvents, prng, uuid } from './payloads.ts';

export type BenchSession = {
  projectId: string;
  publishableClientKey: string;
  accessToken: string;
  segmentId: string;
};

export type WorkerInput = {
  port: number;
  sessions: BenchSession[];
  eventsPerBatch: number;
  /** Distinct pre-generated event arrays to cycle through. */
  pool: number;
  warmupMs: number;
  durationMs: number;
  seed: number;
} & ({ mode: 'closed'; concurrency: number } | { mode: 'paced'; requestsPerSecond: number; maxSockets: number });

export type WorkerResult = {
  windowMs: number;
  requests: number;
  okRequests: number;
  insertedEvents: number;
  /** By HTTP status, or `error:<code>` for a failed connection. */
  statuses: Record<string, number>;
  /** Request latency (send -> last byte of the answer), ms, requests completed in the window. */
  latenciesMs: Float64Array;
  /** Send time of each of those requests, ms after the window opened (same order). */
  sentAtMs: Float64Array;
  /** Paced only: latency measured from the scheduled send time (includes generator lateness). */
  scheduledLatenciesMs?: Float64Array;
  /** Paced only: how late the generator sent, p99 ms. */
  sendLagP99Ms?: number;
  /** Requests still unanswered when the window closed (closed-loop drains them, uncounted). */
  inFlightAtEnd: number;
};

export type WorkerMessage = { type: 'ready' } | { type: 'window-start' } | { type: 'window-end' } | { type: 'done'; result: WorkerResult };

const PATH = '/api/v1/analytics/events/batch';

function main(input: WorkerInput): void {
  const port = parentPort!;
  const random = prng(input.seed);
  const generatedAt = Date.now();
  // Events are pre-serialised; only the envelope (segment, batch id, sent_at) is built per request.
  const eventArrays = Array.from({ length: input.pool }, () =>
    JSON.stringify(browserEvents(random, input.eventsPerBatch, generatedAt - int(random, 20_000))),
  );
  const sessions = input.sessions.map((s) => ({
    ...s,
    headers: {
      'content-type': 'application/json',
      'x-stack-project-id': s.projectId,
      'x-stack-access-type': 'client',
      'x-stack-publishable-client-key': s.publishableClientKey,
      'x-stack-access-token': s.accessToken,
    },
  }));
  const maxSockets = input.mode === 'closed' ? input.concurrency : input.maxSockets;
  const agent = new http.Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets, scheduling: 'fifo' });

  let next = 0;
  const post = (): Promise<{ status: string; inserted: number }> => {
    const i = next++;
    const session = sessions[i % sessions.length]!;
    const events = eventArrays[(i * 7919) % eventArrays.length]!;
    const body = `{"session_replay_segment_id":"${session.segmentId}","batch_id":"${uuid()}","sent_at_ms":${Date.now()},"events":${events}}`;
    return new Promise((resolve) => {
      const request = http.request(
        {
          host: '127.0.0.1',
          port: input.port,
          method: 'POST',
          path: PATH,
          agent,
          headers: { ...session.headers, 'content-length': Buffer.byteLength(body) },
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('end', () => {
            const status = response.statusCode ?? 0;
            let inserted = 0;
            if (status === 200) {
              try {
                inserted = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { inserted: number }).inserted;
              } catch {
                inserted = 0;
              }
            }
            resolve({ status: String(status), inserted });
          });
          response.on('error', (error: NodeJS.ErrnoException) => resolve({ status: `error:${error.code ?? 'response'}`, inserted: 0 }));
        },
      );
      request.on('error', (error: NodeJS.ErrnoException) => resolve({ status: `error:${error.code ?? 'request'}`, inserted: 0 }));
      request.end(body);
    });
  };

  const latencies: number[] = [];
  const sentAts: number[] = [];
  const scheduledLatencies: number[] = [];
  const sendLags: number[] = [];
  const statuses: Record<string, number> = {};
  let requests = 0;
  let okRequests = 0;
  let insertedEvents = 0;
  let inFlight = 0;
  let inFlightAtEnd = 0;

  port.postMessage({ type: 'ready' } satisfies WorkerMessage);
  const start = performance.now();
  const windowStart = start + input.warmupMs;
  const windowEnd = windowStart + input.durationMs;
  let started = false;
  let ended = false;
  const tick = (now: number) => {
    if (!started && now >= windowStart) {
      started = true;
      port.postMessage({ type: 'window-start' } satisfies WorkerMessage);
    }
    if (!ended && now >= windowEnd) {
      ended = true;
      port.postMessage({ type: 'window-end' } satisfies WorkerMessage);
    }
  };
  const record = (sentAt: number, doneAt: number, result: { status: string; inserted: number }, scheduledAt?: number) => {
    // Closed loop: what completed inside the window. Paced: everything sent inside it.
    if (sentAt < windowStart || (scheduledAt === undefined ? doneAt > windowEnd : sentAt >= windowEnd)) return;
    requests++;
    statuses[result.status] = (statuses[result.status] ?? 0) + 1;
    if (result.status === '200') okRequests++;
    insertedEvents += result.inserted;
    latencies.push(doneAt - sentAt);
    sentAts.push(sentAt - windowStart);
    if (scheduledAt !== undefined) {
      scheduledLatencies.push(doneAt - scheduledAt);
      sendLags.push(sentAt - scheduledAt);
    }
  };
  const finish = () => {
    agent.destroy();
    sendLags.sort((a, b) => a - b);
    const result: WorkerResult = {
      windowMs: input.durationMs,
      requests,
      okRequests,
      insertedEvents,
      statuses,
      latenciesMs: Float64Array.from(latencies),
      sentAtMs: Float64Array.from(sentAts),
      inFlightAtEnd,
      ...(input.mode === 'paced'
        ? {
            scheduledLatenciesMs: Float64Array.from(scheduledLatencies),
            sendLagP99Ms: sendLags[Math.min(sendLags.length - 1, Math.floor(sendLags.length * 0.99))] ?? 0,
          }
        : {}),
    };
    port.postMessage({ type: 'done', result } satisfies WorkerMessage, [result.latenciesMs.buffer as ArrayBuffer, result.sentAtMs.buffer as ArrayBuffer]);
  };

  if (input.mode === 'closed') {
    const loop = async () => {
      for (;;) {
        const sentAt = performance.now();
        tick(sentAt);
        if (sentAt >= windowEnd) return;
        inFlight++;
        const result = await post();
        inFlight--;
        const doneAt = performance.now();
        record(sentAt, doneAt, result);
      }
    };
    const loops = Array.from({ length: input.concurrency }, loop);
    // Window-end snapshot of what is still in flight, then drain.
    const endTimer = setTimeout(() => {
      tick(performance.now());
      inFlightAtEnd = inFlight;
    }, input.warmupMs + input.durationMs + 1);
    const startTimer = setTimeout(() => tick(performance.now()), input.warmupMs + 1);
    void Promise.all(loops).then(() => {
      clearTimeout(endTimer);
      clearTimeout(startTimer);
      finish();
    });
    return;
  }

  // Paced, open loop: request k is due at start + k / rate, sent however late the previous ones are.
  const intervalMs = 1000 / input.requestsPerSecond;
  let due = 0;
  const pending = new Set<Promise<void>>();
  const pump = () => {
    const now = performance.now();
    tick(now);
    if (now >= windowEnd) {
      inFlightAtEnd = inFlight;
      void Promise.all(pending).then(finish);
      return;
    }
    while (start + due * intervalMs <= now) {
      const scheduledAt = start + due * intervalMs;
      due++;
      const sentAt = performance.now();
      inFlight++;
      const p = post().then((result) => {
        inFlight--;
        record(sentAt, performance.now(), result, scheduledAt);
        pending.delete(p);
      });
      pending.add(p);
    }
    setTimeout(pump, Math.max(0, Math.min(1, start + due * intervalMs - performance.now())));
  };
  pump();
}

const int = (random: () => number, max: number) => Math.floor(random() * max);

if (parentPort && workerData) main(workerData as WorkerInput);
