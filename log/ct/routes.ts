import Router from '@koa/router';
import '../../core/koa-augment.ts';
import { sctToJson } from '../../core/sct.ts';
import type { CtLog } from './ct-log.ts';
import { base64Param, chainFromBody, intParam } from './params.ts';

const b64 = (b: Buffer): string => b.toString('base64');

/**
 * RFC 6962 §4 HTTP API under /ct/v1. Errors are thrown (core/errors.ts) and rendered by services/errors.ts
 * as plain-text bodies, as Trillian's CT front end does.
 */
export function ctRouter(ct: CtLog): Router {
  const router = new Router({ prefix: '/ct/v1' });

  router.post('/add-chain', async (ctx) => {
    ctx.body = sctToJson(await ct.addChain(chainFromBody(ctx.request.body)));
  });

  router.post('/add-pre-chain', async (ctx) => {
    ctx.body = sctToJson(await ct.addPreChain(chainFromBody(ctx.request.body)));
  });

  router.get('/get-sth', (ctx) => {
    ctx.body = ct.getSth();
  });

  router.get('/get-sth-consistency', (ctx) => {
    const proof = ct.getSthConsistency(intParam(ctx.query, 'first'), intParam(ctx.query, 'second'));
    ctx.body = { consistency: proof.map(b64) };
  });

  router.get('/get-proof-by-hash', (ctx) => {
    const { leafIndex, auditPath } = ct.getProofByHash(base64Param(ctx.query, 'hash'), intParam(ctx.query, 'tree_size'));
    ctx.body = { leaf_index: leafIndex, audit_path: auditPath.map(b64) };
  });

  router.get('/get-entries', (ctx) => {
    const entries = ct.getEntries(intParam(ctx.query, 'start'), intParam(ctx.query, 'end'));
    ctx.body = { entries: entries.map((e) => ({ leaf_input: b64(e.leafInput), extra_data: b64(e.extraData) })) };
  });

  router.get('/get-entry-and-proof', (ctx) => {
    const e = ct.getEntryAndProof(intParam(ctx.query, 'leaf_index'), intParam(ctx.query, 'tree_size'));
    ctx.body = { leaf_input: b64(e.leafInput), extra_data: b64(e.extraData), audit_path: e.auditPath.map(b64) };
  });

  router.get('/get-roots', (ctx) => {
    ctx.body = { certificates: ct.getRoots().map(b64) };
  });

  return router;
}
