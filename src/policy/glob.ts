/**
 * Glob lists, compiled once: `*` matches any characters (`/` included), `?` one character where
 * enabled; everything else is literal. A list answers which of its patterns matches a value. Exact
 * patterns go to a Map (one lookup), the rest to anchored RegExps built here, never per request.
 */

export interface GlobOptions {
  /** Compare lower-cased (patterns and values). */
  readonly caseInsensitive?: boolean;
  /** `?` matches one character (IAM style); otherwise it is literal. */
  readonly questionMark?: boolean;
}

export interface GlobList {
  /** The list holds a lone `*`. */
  readonly hasStar: boolean;
  readonly size: number;
  /** The first pattern (as written) that matches `value`, or undefined. */
  match(value: string): string | undefined;
}

const SPECIAL = /[.*+?^${}()|[\]\\]/g;

function toRegExp(pattern: string, options: GlobOptions): RegExp {
  let source = '';
  for (const c of pattern) {
    if (c === '*') source += '.*';
    else if (c === '?' && options.questionMark === true) source += '.';
    else source += c.replace(SPECIAL, '\\$&');
  }
  return new RegExp(`^${source}$`, 's');
}

/** Compiles `patterns` into a GlobList (see GlobOptions for case and `?`). */
export function compileGlobList(patterns: readonly string[], options: GlobOptions = {}): GlobList {
  const fold = options.caseInsensitive === true ? (s: string): string => s.toLowerCase() : (s: string): string => s;
  const exact = new Map<string, string>();
  const globs: [RegExp, string][] = [];
  let hasStar = false;
  for (const pattern of patterns) {
    if (pattern === '*') hasStar = true;
    const wild = pattern.indexOf('*') !== -1 || (options.questionMark === true && pattern.indexOf('?') !== -1);
    if (!wild) {
      if (!exact.has(fold(pattern))) exact.set(fold(pattern), pattern);
    } else globs.push([toRegExp(fold(pattern), options), pattern]);
  }
  return {
    hasStar,
    size: patterns.length,
    match(value: string): string | undefined {
      const v = fold(value);
      const hit = exact.get(v);
      if (hit !== undefined) return hit;
      for (const [re, pattern] of globs) if (re.test(v)) return pattern;
      return undefined;
    },
  };
}
