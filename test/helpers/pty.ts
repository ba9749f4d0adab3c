/**
 * Runs a program on a pseudo-terminal (stdin, stdout and stderr all the terminal, as in an
 * interactive shell), through python3's `pty` module: Node has no pty of its own. A script of
 * (expected output, keystrokes) steps drives it; at each step, before typing, the child's
 * /proc/PID/cmdline is read, so a test can show what other local users would see in `ps`.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';

const PYTHON = fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

// Waits for each step's pattern in the output, reads the child's cmdline, types the keys; then
// reads to the end (EIO once the child closed the terminal) and reports everything as JSON.
const DRIVER = String.raw`
import json, os, pty, re, select, sys, time
argv, env, steps, timeout = json.loads(sys.argv[1])
pid, fd = pty.fork()
if pid == 0:
    os.execve(argv[0], argv, env)
out = b''
def pump(deadline):
    global out
    r, _, _ = select.select([fd], [], [], max(0.0, deadline - time.time()))
    if not r:
        return True
    try:
        chunk = os.read(fd, 65536)
    except OSError:
        return False
    if not chunk:
        return False
    out += chunk
    return True
cmdlines = []
deadline = time.time() + timeout
for pattern, keys in steps:
    while not re.search(pattern.encode('latin-1'), out):
        if time.time() > deadline or not pump(deadline):
            print(json.dumps({'error': 'timed out or ended waiting for ' + pattern, 'output': out.decode('latin-1')}))
            os.kill(pid, 9)
            sys.exit(0)
    with open('/proc/%d/cmdline' % pid, 'rb') as f:
        cmdlines.append(f.read().decode('latin-1'))
    os.write(fd, keys.encode('utf-8'))
while time.time() < deadline and pump(deadline):
    pass
_, status = os.waitpid(pid, 0)
print(json.dumps({'output': out.decode('latin-1'), 'cmdlines': cmdlines, 'code': os.waitstatus_to_exitcode(status)}))
`;

export interface PtyStep {
  /** A regular expression (Python syntax) the output must match before `keys` are typed. */
  readonly expect: string;
  readonly keys: string;
}

export interface PtyResult {
  /** Everything the terminal showed (stdout and stderr together, latin1), echo included. */
  readonly output: string;
  /** /proc/PID/cmdline of the child (NULs between arguments) at each step, before typing. */
  readonly cmdlines: readonly string[];
  readonly code: number;
}

/** Runs `argv` (argv[0] an absolute path) on a pty with `env`; rejects when a step times out. */
export function runOnPty(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  steps: readonly PtyStep[] = [],
  timeoutSeconds = 30,
): Promise<PtyResult> {
  const args = JSON.stringify([argv, env, steps.map((s) => [s.expect, s.keys]), timeoutSeconds]);
  return new Promise((resolve, reject) => {
    execFile(PYTHON, ['-c', DRIVER, args], { maxBuffer: 16 * 1024 * 1024 }, (err, stdout) => {
      if (err) return reject(new Error(`python3 pty driver failed: ${err.message}`));
      const result = JSON.parse(stdout) as PtyResult & { error?: string };
      if (result.error) return reject(new Error(`${result.error}\n--- terminal output ---\n${result.output}`));
      resolve(result);
    });
  });
}
