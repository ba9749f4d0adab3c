/**
 * YAML documents to plain data, bounded: the lexer pass of yaml-shape first, then yaml's parser
 * with aliases capped (maxAliasCount, and the expanded size), duplicate keys found in linear time
 * (yaml's own check is quadratic in a mapping's size), tags and merge keys left unresolved, and
 * every error named by document, line and column. Pure.
 */
import { isNode, isScalar, LineCounter, parseAllDocuments, visit, type Document, type YAMLError } from 'yaml';
import { PaiError } from '../errors.js';
import { checkYamlShape } from './yaml-shape.js';

/** yaml's bound on alias expansion: an anchor used more widely than this is refused as a bomb. */
export const MAX_ALIAS_COUNT = 100;

/**
 * What each of yaml's error codes means, in fixed words. yaml's own messages quote the offending
 * text (a tag, a directive, a block scalar header), which may be a pasted credential: they are
 * never shown.
 */
const YAML_ERRORS: Readonly<Record<YAMLError['code'], string>> = {
  ALIAS_PROPS: 'an alias cannot have an anchor or a tag',
  BAD_ALIAS: 'an alias refers to no anchor',
  BAD_DIRECTIVE: 'unsupported or malformed directive',
  BAD_DQ_ESCAPE: 'invalid escape in a double-quoted string',
  BAD_INDENT: 'bad indentation, or a flow collection ([ or {) not closed',
  BAD_PROP_ORDER: 'anchor and tag in the wrong order',
  BAD_SCALAR_START: 'a plain value cannot start with this character',
  BLOCK_AS_IMPLICIT_KEY: 'nested mappings are not allowed in a compact mapping',
  BLOCK_IN_FLOW: 'block collections are not allowed inside flow collections',
  DUPLICATE_KEY: 'duplicate key',
  KEY_OVER_1024_CHARS: 'an implicit key is longer than 1024 characters',
  IMPOSSIBLE: 'unparseable input',
  MISSING_CHAR: 'a closing character is missing',
  MULTILINE_IMPLICIT_KEY: 'an implicit key must be on one line',
  MULTIPLE_ANCHORS: 'a node has more than one anchor',
  MULTIPLE_DOCS: 'unexpected start of another document',
  MULTIPLE_TAGS: 'a node has more than one tag',
  NON_STRING_KEY: 'mapping keys must be strings',
  RESOURCE_EXHAUSTION: 'the document expands too much (aliases)',
  TAB_AS_INDENT: 'tabs cannot be used for indentation',
  TAG_RESOLVE_FAILED: 'unknown or unresolvable tag',
  UNEXPECTED_TOKEN: 'unexpected characters',
  BAD_COLLECTION_TYPE: 'a collection of the wrong type',
};

/** The error for a YAML syntax problem in document `index`, naming its line and column. */
function syntaxError(source: string, index: number, err: YAMLError, lines: LineCounter, total: number): PaiError {
  const { line, col } = lines.linePos(err.pos[0]);
  const text = `${YAML_ERRORS[err.code] ?? 'invalid YAML'} (${err.code})`;
  const more = total > 1 ? ` (and ${total - 1} more)` : '';
  return new PaiError('bad_request', `${source}: document ${index}: YAML error at line ${line}, column ${col}: ${text}${more}`, {
    details: { document: `document ${index} of ${source}`, line, column: col },
  });
}

/** Where a node starts in the text, when it is a node with a range. */
function rangeStart(node: unknown): number | undefined {
  return isNode(node) ? node.range?.[0] : undefined;
}

/** Reports duplicate and non-scalar mapping keys of a YAML document in linear time; returns whether it has aliases. */
function checkKeys(doc: Document, fail: (offset: number, message: string) => never): boolean {
  let aliases = false;
  visit(doc, {
    Alias() {
      aliases = true;
    },
    Map(_, map) {
      const seen = new Set<string>();
      for (const { key } of map.items) {
        const offset = rangeStart(key) ?? rangeStart(map) ?? 0;
        if (!isScalar(key)) fail(offset, 'mapping keys must be plain scalars');
        const name = String(key.value);
        if (seen.has(name)) fail(offset, 'mapping keys must be unique');
        seen.add(name);
      }
    },
  });
  return aliases;
}

/** Approximate JSON size of `value` with shared (aliased) parts counted once per use; stops past `limit`. */
function expandedSize(value: unknown, limit: number, memo = new Map<object, number>()): number {
  if (typeof value === 'string') return value.length + 2;
  if (typeof value !== 'object' || value === null) return 8;
  const known = memo.get(value);
  if (known !== undefined) return known;
  let size = 2;
  for (const [k, v] of Object.entries(value)) {
    size += k.length + 4 + expandedSize(v, limit, memo);
    if (size > limit) break;
  }
  memo.set(value, size);
  return size;
}

/** Where a document is, for messages and limits. */
interface DocContext {
  readonly source: string;
  readonly index: number;
  readonly lines: LineCounter;
  /** Largest size the document's aliases may expand it to. */
  readonly maxBytes: number;
}

/** A PaiError about document `ctx.index`; `offset` (when known) gives the line and column. */
function docError(ctx: DocContext, code: 'bad_request' | 'too_large', message: string, offset?: number, cause?: unknown) {
  const document = `document ${ctx.index} of ${ctx.source}`;
  if (offset === undefined)
    return new PaiError(code, `${ctx.source}: document ${ctx.index}: ${message}`, { cause, details: { document } });
  const { line, col } = ctx.lines.linePos(offset);
  return new PaiError(code, `${ctx.source}: document ${ctx.index}: YAML error at line ${line}, column ${col}: ${message}`, {
    cause,
    details: { document, line, column: col },
  });
}

/** Converts one parsed YAML document to plain data, refusing alias bombs; undefined for an empty document. */
function documentValue(doc: Document, ctx: DocContext): unknown {
  const hasAliases = checkKeys(doc, (offset, message) => {
    throw docError(ctx, 'bad_request', message, offset);
  });
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (err) {
    // yaml throws a ReferenceError once alias expansion passes maxAliasCount.
    if (err instanceof ReferenceError)
      throw docError(ctx, 'too_large', 'YAML aliases expand too much (an alias bomb?)', undefined, err);
    throw docError(ctx, 'bad_request', 'YAML document could not be read', undefined, err);
  }
  if (hasAliases && expandedSize(value, ctx.maxBytes) > ctx.maxBytes) {
    throw docError(ctx, 'too_large', `YAML aliases expand to more than ${ctx.maxBytes} bytes`);
  }
  return value;
}

/** Runs `fn`, turning a stack overflow (a document nested thousands deep) into PaiError `bad_request`. */
function nestingGuard<T>(fn: () => T, ctx: DocContext): T {
  try {
    return fn();
  } catch (err) {
    if (!(err instanceof RangeError)) throw err;
    throw docError(ctx, 'bad_request', 'YAML nested too deeply', undefined, err);
  }
}

/**
 * The documents of YAML `text`, numbered from 1 in file order, empty ones skipped. Throws
 * PaiError `too_large` (too many tokens, aliases expanding past `maxBytes`) or `bad_request`.
 */
export function yamlDocuments(text: string, source: string, maxBytes: number): { index: number; value: unknown }[] {
  checkYamlShape(text, source);
  const lines = new LineCounter();
  let docs: ReturnType<typeof parseAllDocuments>;
  try {
    docs = parseAllDocuments(text, {
      lineCounter: lines,
      prettyErrors: false,
      uniqueKeys: false, // checked by checkKeys in linear time
      schema: 'core',
      merge: false,
      resolveKnownTags: false,
    });
  } catch (err) {
    throw new PaiError('bad_request', `${source}: YAML too deeply nested or malformed`, { cause: err });
  }
  const out: { index: number; value: unknown }[] = [];
  docs.forEach((doc, i) => {
    const problems = [...doc.errors, ...doc.warnings];
    const first = problems[0];
    if (first !== undefined) throw syntaxError(source, i + 1, first, lines, problems.length);
    const ctx = { source, index: i + 1, lines, maxBytes };
    const value = nestingGuard(() => documentValue(doc, ctx), ctx);
    if (value !== undefined && value !== null) out.push({ index: i + 1, value });
  });
  return out;
}
