import type Koa from 'koa';
import { BadRequestError } from '../../core/errors.ts';

/** One value of a query parameter; repeated parameters are ambiguous and refused. */
export function queryString(ctx: Koa.Context, name: string): string | undefined {
  const value = ctx.query[name];
  if (Array.isArray(value)) throw new BadRequestError(`query parameter ${name} must be given once`);
  return value;
}

/** A non-negative decimal safe integer (digits only: no sign, exponent, spaces or hex). */
export function queryInt(ctx: Koa.Context, name: string, o: { min: number; fallback?: number }): number {
  const text = queryString(ctx, name);
  if (text === undefined) {
    if (o.fallback !== undefined) return o.fallback;
    throw new BadRequestError(`query parameter ${name} is required`);
  }
  const value = /^[0-9]{1,16}$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(value)) throw new BadRequestError(`query parameter ${name} must be a non-negative integer`);
  if (value < o.min) throw new BadRequestError(`query parameter ${name} must be at least ${o.min}`);
  return value;
}
