/**
 * Vault ACL policies for the test double: a parser for the HCL subset pai's policies use, and
 * the matching rules of Vault's vault/acl.go.
 *
 * Parsed: `path "<pattern>" { capabilities = ["…", …] }` blocks, `#`, `//` and `/* *\/` comments.
 * Anything else is an error (the double refuses a policy it would not understand, rather than
 * guess). Patterns as vault/policy.go normalises them: a trailing `*` makes a prefix rule; `+` as a
 * whole segment makes a segment-wildcard rule (which keeps its trailing `*`); `+*` is refused.
 *
 * Matching (vault/acl.go AllowOperation): rules for the same pattern from several policies merge
 * (capabilities are OR-ed; `deny` replaces everything). An exact rule wins; a LIST also tries the
 * exact rule without its trailing "/", then the non-exact rules on the path without it. Otherwise
 * the candidates are the longest prefix rule and every matching segment-wildcard rule, ranked by:
 * later first wildcard, not-a-prefix, fewer `+` segments, longer pattern, lexical order. The best
 * one alone decides; no rule means deny (deny by default). Not modelled: allowed/denied/required
 * parameters, wrapping TTLs, MFA, control groups, templated policies, sentinel.
 */

export type Capability = 'create' | 'read' | 'update' | 'patch' | 'delete' | 'list' | 'sudo' | 'deny' | 'subscribe' | 'recover';
export type Operation = 'create' | 'read' | 'update' | 'patch' | 'delete' | 'list';

const CAPABILITIES: readonly string[] = [
  'create',
  'read',
  'update',
  'patch',
  'delete',
  'list',
  'sudo',
  'deny',
  'subscribe',
  'recover',
];

export interface PathRule {
  /** Normalised: without the trailing `*` of a prefix rule. */
  readonly path: string;
  readonly prefix: boolean;
  readonly segmentWildcards: boolean;
  readonly capabilities: ReadonlySet<Capability>;
}

type Token = { kind: 'str'; text: string } | { kind: 'ident'; text: string } | { kind: 'punct'; text: string };

function tokenize(src: string, name: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i] ?? '';
    if (/\s/.test(c)) i++;
    else if (c === '#' || src.startsWith('//', i)) i = src.indexOf('\n', i) === -1 ? src.length : src.indexOf('\n', i);
    else if (src.startsWith('/*', i)) {
      const end = src.indexOf('*/', i + 2);
      if (end === -1) throw new Error(`policy ${name}: unterminated comment`);
      i = end + 2;
    } else if (c === '"') {
      let j = i + 1;
      let text = '';
      while (j < src.length && src[j] !== '"') {
        if (src[j] === '\\') j++;
        text += src[j] ?? '';
        j++;
      }
      if (j >= src.length) throw new Error(`policy ${name}: unterminated string`);
      out.push({ kind: 'str', text });
      i = j + 1;
    } else if ('{}[]=,'.includes(c)) {
      out.push({ kind: 'punct', text: c });
      i++;
    } else {
      const m = /^[A-Za-z_][A-Za-z0-9_-]*/.exec(src.slice(i));
      if (!m) throw new Error(`policy ${name}: unexpected character ${JSON.stringify(c)} at offset ${i}`);
      out.push({ kind: 'ident', text: m[0] });
      i += m[0].length;
    }
  }
  return out;
}

function normalise(raw: string, name: string, capabilities: ReadonlySet<Capability>, nsPath: string): PathRule {
  let path = nsPath + raw.replace(/^\/+/, '');
  if (path.includes('+*'))
    throw new Error(`policy ${name}: path ${JSON.stringify(raw)}: invalid use of wildcards ('+*' is forbidden)`);
  const segmentWildcards = path === '+' || path.includes('/+') || path.startsWith('+/');
  let prefix = false;
  if (path.endsWith('*') && !segmentWildcards) {
    path = path.slice(0, -1);
    prefix = true;
  }
  return { path, prefix, segmentWildcards, capabilities };
}

/** Parses one policy. Throws on anything outside the subset. `nsPath` ("" or "team-a/") prefixes every path. */
export function parsePolicy(name: string, src: string, nsPath = ''): PathRule[] {
  const tokens = tokenize(src, name);
  const rules: PathRule[] = [];
  let i = 0;
  const next = (): Token => {
    const t = tokens[i++];
    if (!t) throw new Error(`policy ${name}: unexpected end`);
    return t;
  };
  const expect = (kind: Token['kind'], text?: string): Token => {
    const t = next();
    if (t.kind !== kind || (text !== undefined && t.text !== text)) {
      throw new Error(`policy ${name}: expected ${text ?? kind}, found ${JSON.stringify(t.text)}`);
    }
    return t;
  };
  while (i < tokens.length) {
    expect('ident', 'path');
    const pattern = expect('str').text;
    expect('punct', '{');
    expect('ident', 'capabilities');
    expect('punct', '=');
    expect('punct', '[');
    const caps = new Set<Capability>();
    for (let t = next(); !(t.kind === 'punct' && t.text === ']'); t = next()) {
      if (t.kind === 'punct' && t.text === ',') continue;
      if (t.kind !== 'str' || !CAPABILITIES.includes(t.text))
        throw new Error(`policy ${name}: unknown capability ${JSON.stringify(t.text)}`);
      caps.add(t.text as Capability);
    }
    expect('punct', '}');
    rules.push(normalise(pattern, name, caps, nsPath));
  }
  return rules;
}

interface Candidate {
  readonly firstWildcard: number;
  readonly prefix: boolean;
  readonly wildcards: number;
  readonly pattern: string;
  readonly caps: ReadonlySet<Capability>;
}

/** Vault's priority order: returns true when `a` ranks below `b`. */
function lower(a: Candidate, b: Candidate): boolean {
  if (a.firstWildcard !== b.firstWildcard) return a.firstWildcard < b.firstWildcard;
  if (a.prefix !== b.prefix) return a.prefix;
  if (a.wildcards !== b.wildcards) return a.wildcards > b.wildcards;
  if (a.pattern.length !== b.pattern.length) return a.pattern.length < b.pattern.length;
  return a.pattern < b.pattern;
}

function merge(into: Map<string, Set<Capability>>, key: string, caps: ReadonlySet<Capability>): void {
  const existing = into.get(key);
  if (!existing) into.set(key, new Set(caps.has('deny') ? ['deny'] : caps));
  else if (existing.has('deny')) return;
  else if (caps.has('deny')) into.set(key, new Set(['deny']));
  else for (const c of caps) existing.add(c);
}

/** The merged rules of a token's policies. */
export class Acl {
  private readonly exact = new Map<string, Set<Capability>>();
  private readonly prefixes = new Map<string, Set<Capability>>();
  private readonly segment = new Map<string, Set<Capability>>();

  constructor(policies: readonly (readonly PathRule[])[]) {
    for (const rules of policies) {
      for (const r of rules) {
        if (r.segmentWildcards) merge(this.segment, r.prefix ? `${r.path}*` : r.path, r.capabilities);
        else merge(r.prefix ? this.prefixes : this.exact, r.path, r.capabilities);
      }
    }
  }

  private nonExact(path: string): ReadonlySet<Capability> | undefined {
    const candidates: Candidate[] = [];
    let longest: string | undefined;
    for (const p of this.prefixes.keys())
      if (path.startsWith(p) && (longest === undefined || p.length > longest.length)) longest = p;
    if (longest !== undefined) {
      const caps = this.prefixes.get(longest) ?? new Set<Capability>();
      if (this.segment.size === 0) return caps;
      candidates.push({ firstWildcard: longest.length, prefix: true, wildcards: 0, pattern: longest, caps });
    }
    const parts = path.split('/');
    outer: for (const [full, caps] of this.segment) {
      const prefix = full.endsWith('*');
      const pattern = prefix ? full.slice(0, -1) : full;
      const segs = pattern.split('/');
      if (parts.length < segs.length || (!prefix && segs.length !== parts.length)) continue;
      let wildcards = 0;
      for (const [i, seg] of segs.entries()) {
        const part = parts[i] ?? '';
        if (seg === '+') wildcards++;
        else if (seg === part) continue;
        else if (prefix && i === segs.length - 1 && part.startsWith(seg)) continue;
        else continue outer;
      }
      candidates.push({ firstWildcard: full.indexOf('+'), prefix, wildcards, pattern, caps });
    }
    let best: Candidate | undefined;
    for (const c of candidates) if (!best || lower(best, c)) best = c;
    return best?.caps;
  }

  /** The capabilities that decide `op` on `path`, or undefined when no rule matches. */
  capabilities(path: string, op: Operation): ReadonlySet<Capability> | undefined {
    const exact = this.exact.get(path) ?? (op === 'list' ? this.exact.get(path.replace(/\/$/, '')) : undefined);
    if (exact) return exact;
    if (op === 'list' && path.endsWith('/')) {
      const trimmed = this.nonExact(path.slice(0, -1));
      if (trimmed) return trimmed;
    }
    return this.nonExact(path);
  }

  /** True when the policies allow `op` on `path` (deny by default; `deny` wins). */
  allows(path: string, op: Operation): boolean {
    const caps = this.capabilities(path, op);
    return caps !== undefined && !caps.has('deny') && caps.has(op);
  }
}
