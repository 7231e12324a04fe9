import test from 'ava';
import { createWorkerPool } from '../../core/worker-pool.ts';

// core/worker-pool.ts: the same answers with or without workers; a worker that dies, a task that cannot be sent
// and a pool closed with work in flight all fall back to the work on this thread.

type Task = number | 'die' | 'fail' | 'ask' | (() => void);

function pool(size = 2, inlineCalls: Task[] = []) {
  return createWorkerPool<Task, number>({
    url: new URL('./pool-worker.mjs', import.meta.url),
    size,
    inline: async (task) => {
      inlineCalls.push(task);
      if (task === 'fail') throw new Error('refused');
      return typeof task === 'number' ? task * 2 : -1;
    },
    request: (id, task) => ({ message: { id, task } }),
    outcome(message) {
      const m = message as { id?: number; ok?: boolean; value?: number; message?: string };
      if (m.id === undefined) return undefined;
      return m.ok ? { id: m.id, ok: true, value: m.value! } : { id: m.id, ok: false, error: new Error(m.message) };
    },
    onOther(message, reply) {
      const m = message as { ask: number };
      reply({ answer: 40, to: m.ask });
    },
  });
}

test('tasks run on the workers, refusals come back as errors, and a worker may ask this thread and get its answer', async (t) => {
  const inline: Task[] = [];
  const p = pool(2, inline);
  try {
    t.deepEqual(await Promise.all([1, 2, 3, 4, 5, 6].map((n) => p.run(n))), [2, 4, 6, 8, 10, 12]);
    await t.throwsAsync(p.run('fail'), { message: 'refused' });
    t.is(await p.run('ask'), 41);
    t.deepEqual(inline, [], 'nothing ran on this thread');
  } finally {
    await p.close();
  }
});

test('a worker that dies hands its task and every later one to this thread', async (t) => {
  const inline: Task[] = [];
  const p = pool(1, inline);
  try {
    t.is(await p.run(1), 2);
    t.is(await p.run('die'), -1, 'the task in flight is redone inline');
    t.is(await p.run(5), 10);
    t.deepEqual(inline, ['die', 5]);
  } finally {
    await p.close();
  }
});

test('a task that cannot be sent to a worker runs here; close() answers what is in flight', async (t) => {
  const inline: Task[] = [];
  const p = pool(1, inline);
  const fn = () => undefined;
  t.is(await p.run(fn), -1, 'a function cannot be cloned: inline');
  t.deepEqual(inline, [fn]);
  const inFlight = p.run(21);
  await p.close();
  t.is(await inFlight, 42);
  t.is(await p.run(4), 8);
});
