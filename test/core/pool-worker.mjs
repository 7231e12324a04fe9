// A worker for test/core/worker-pool.test.ts: doubles numbers; "die" exits mid-task; "ask" first asks the main
// thread for a number and adds it.
import { parentPort } from 'node:worker_threads';

const asked = new Map();
parentPort.on('message', (m) => {
  if (m.answer !== undefined) {
    const id = asked.get(m.to);
    asked.delete(m.to);
    parentPort.postMessage({ id, ok: true, value: m.answer + 1 });
    return;
  }
  if (m.task === 'die') process.exit(3);
  if (m.task === 'fail') return parentPort.postMessage({ id: m.id, ok: false, message: 'refused' });
  if (m.task === 'ask') {
    asked.set(m.id, m.id);
    return parentPort.postMessage({ ask: m.id });
  }
  parentPort.postMessage({ id: m.id, ok: true, value: m.task * 2 });
});
