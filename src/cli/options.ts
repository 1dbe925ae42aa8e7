// Strict parsers for option values. Commander turns an InvalidArgumentError into one line such as
// "error: option '--steps <n>' argument 'abc' is invalid. expected a positive integer", exit code 2.
import { InvalidArgumentError } from 'commander';
import { DATASETS, isDatasetName, isOwnDataSpec, type DatasetSpec } from '../data/dataset';

const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

/**
 * The largest value of an integer option: 2^32 - 1. The engine holds counts, steps and seeds in 32-bit
 * words (GPU uniforms, the mulberry32 and pcg random streams), so a larger seed would silently run as
 * seed mod 2^32 while being recorded as given.
 */
export const MAX_INT_OPTION = 0xffffffff;

/** The finite number `raw` spells, or an error saying what was expected instead (1e400 is Infinity: refused). */
function num(raw: string, expected = 'a number'): number {
  const s = raw.trim();
  if (!NUMBER.test(s)) throw new InvalidArgumentError(`expected ${expected}.`);
  const v = Number(s);
  if (!Number.isFinite(v)) throw new InvalidArgumentError(`expected ${expected}; ${s} is too large to be a finite number.`);
  return v;
}

/** An integer in [min, MAX_INT_OPTION]; `expected` says so in the error. */
function int(raw: string, min: number, expected: string): number {
  const v = num(raw, expected);
  if (!Number.isInteger(v) || v < min || v > MAX_INT_OPTION) throw new InvalidArgumentError(`expected ${expected}.`);
  return v;
}

export function parseNumber(raw: string): number {
  return num(raw);
}

export function parsePositive(raw: string): number {
  const v = num(raw, 'a positive number');
  if (!(v > 0)) throw new InvalidArgumentError('expected a positive number.');
  return v;
}

export function parseNonNegative(raw: string): number {
  const v = num(raw, 'a number >= 0');
  if (!(v >= 0)) throw new InvalidArgumentError('expected a number >= 0.');
  return v;
}

/** A positive integer up to 2^32 - 1 (steps, batch and set sizes; validateConfig narrows some further). */
export function parsePositiveInt(raw: string): number {
  return int(raw, 1, `a positive integer up to ${MAX_INT_OPTION}`);
}

/** An integer in [0, 2^32 - 1]: seeds (32-bit random streams) and paddings. */
export function parseNonNegativeInt(raw: string): number {
  return int(raw, 0, `an integer in [0, ${MAX_INT_OPTION}]`);
}

/** A fraction strictly inside (0, 1): the majority-class proportion. */
export function parseRatio(raw: string): number {
  const v = num(raw, 'a proportion in (0, 1), e.g. 0.995');
  if (!(v > 0 && v < 1)) throw new InvalidArgumentError('expected a proportion in (0, 1), e.g. 0.995.');
  return v;
}

/** A fraction in [0, 1): the label-noise level. */
export function parseFraction(raw: string): number {
  const v = num(raw, 'a fraction in [0, 1), e.g. 0.4');
  if (!(v >= 0 && v < 1)) throw new InvalidArgumentError('expected a fraction in [0, 1), e.g. 0.4.');
  return v;
}

/** Momentum in [0, 1). */
export function parseMomentum(raw: string): number {
  const v = num(raw, 'a number in [0, 1)');
  if (!(v >= 0 && v < 1)) throw new InvalidArgumentError('expected a number in [0, 1).');
  return v;
}

function list(raw: string): string[] {
  const items = raw.split(',').map((s) => s.trim());
  if (items.length === 0 || items.some((s) => s === '')) throw new InvalidArgumentError('expected a comma-separated list without empty items.');
  return items;
}

/** A comma-separated list, each item checked by `parse`; the error names the item that failed. */
function listOf(parse: (raw: string) => number, what: string): (raw: string) => number[] {
  return (raw) =>
    list(raw).map((s) => {
      try {
        return parse(s);
      } catch {
        throw new InvalidArgumentError(`"${s}" is not ${what}.`);
      }
    });
}

/** "256" or "256,128": MLP hidden widths. */
export const parseIntList = listOf(parsePositiveInt, 'a positive integer');

export const parseRatioList = listOf(parseRatio, 'a proportion in (0, 1)');

/** Fractions of a run in (0, 1), or "none" for an empty list: when the learning rate decays. */
export function parseFractionList(raw: string): number[] {
  return raw.trim() === 'none' ? [] : listOf(parseRatio, 'a fraction of the run in (0, 1)')(raw);
}

/** A multiplicative decay factor in (0, 1]. */
export function parseDecayFactor(raw: string): number {
  const v = num(raw, 'a number in (0, 1]');
  if (!(v > 0 && v <= 1)) throw new InvalidArgumentError('expected a number in (0, 1].');
  return v;
}

export function choiceList<T extends string>(choices: readonly T[]): (raw: string) => T[] {
  return (raw) =>
    list(raw).map((s) => {
      if (!(choices as readonly string[]).includes(s)) throw new InvalidArgumentError(`unknown "${s}"; allowed: ${choices.join(', ')}.`);
      return s as T;
    });
}

/** --dataset: a built-in data set's name, or own data as folder:DIR or npy:DIR. */
export function parseDatasetOption(raw: string): DatasetSpec {
  if (isDatasetName(raw) || isOwnDataSpec(raw)) return raw;
  throw new InvalidArgumentError(`Allowed choices are ${DATASETS.join(', ')}, or your own data as folder:DIR or npy:DIR.`);
}
