/**
 * `memattr viz`: serves the browser visualiser (viz-dist/) on 127.0.0.1 and prints its URL.
 *
 *   memattr viz [TRACE] [--port N] [--host 127.0.0.1]
 *
 * The page is static: this server only hands out files. viz-dist/ is built with
 * `node scripts/build-viz.mjs`; when it is missing and the sources are at hand it is built
 * here with esbuild first. With TRACE (a memattr JSONL trace, or ftrace / QEMU trace text) the
 * file is served at `/trace` and the URL opens the page with it loaded (`?trace=trace&name=…`).
 * Exit codes: 0 after SIGINT/SIGTERM, 1 when viz-dist cannot be found or built, 2 usage.
 */
import { createReadStream, existsSync, statSync } from "node:fs";
import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { basename, dirname, extname, join, resolve, sep } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { intOption, parseOptions, UsageError } from "./_args.js";

const USAGE = `usage: memattr viz [TRACE] [--port N] [--host 127.0.0.1]

Serves the visualiser and prints its URL. TRACE (JSONL, ftrace or QEMU text) opens loaded.
--port 0 (default 5178 when free) picks a free port.
`;

/** The repository (or installed package) root: src/cli/ and dist/cli/ both sit two levels down. */
const PACKAGE_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");

const MIME: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".wasm": "application/wasm",
  ".map": "application/json; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".png": "image/png",
  ".svg": "image/svg+xml",
};

/** Options of {@link serveViz}. */
export interface ServeVizOptions {
  /** The built page (default: viz-dist/ at the package root). */
  root?: string;
  /** TCP port; 0 picks a free one. */
  port?: number;
  /** Address to listen on (default 127.0.0.1). */
  host?: string;
  /** A trace file to serve at `/trace`. */
  tracePath?: string;
}

/** A running server and the URL that opens the page. */
export interface VizServer {
  server: Server;
  url: string;
  close(): Promise<void>;
}

/** Path of viz-dist/, built first (with esbuild, from src/viz/) when it is missing. */
export async function ensureVizDist(root = join(PACKAGE_ROOT, "viz-dist")): Promise<string> {
  if (existsSync(join(root, "index.html")) && existsSync(join(root, "viz.js"))) return root;
  const script = join(PACKAGE_ROOT, "scripts", "build-viz.mjs");
  if (!existsSync(script) || !existsSync(join(PACKAGE_ROOT, "src", "viz", "main.ts"))) {
    throw new Error(`${root} is missing and the visualiser sources are not here to build it (run \`node scripts/build-viz.mjs\` in a checkout)`);
  }
  // A computed specifier: the build script is plain JS outside this package's compiled tree.
  const mod = (await import(pathToFileURL(script).href)) as { buildViz(o: { outDir: string }): Promise<string> };
  return mod.buildViz({ outDir: root });
}

/**
 * Serves `root` (static files, correct MIME types for `.wasm`) and, optionally, one trace at `/trace`.
 * @returns the server and the page's URL (with `?trace=…` when a trace is served).
 */
export async function serveViz(options: ServeVizOptions = {}): Promise<VizServer> {
  const root = resolve(options.root ?? join(PACKAGE_ROOT, "viz-dist"));
  const host = options.host ?? "127.0.0.1";
  const tracePath = options.tracePath === undefined ? undefined : resolve(options.tracePath);
  const server = createServer((req, res) => {
    let path: string;
    try {
      path = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname);
    } catch {
      res.writeHead(400).end("bad request\n");
      return;
    }
    let file: string;
    let type: string;
    if (path === "/trace" && tracePath !== undefined) {
      file = tracePath;
      type = "text/plain; charset=utf-8";
    } else {
      file = resolve(root, `.${path.endsWith("/") ? `${path}index.html` : path}`);
      type = MIME[extname(file)] ?? "application/octet-stream";
      if (file !== root && !file.startsWith(root + sep)) {
        res.writeHead(403).end("forbidden\n");
        return;
      }
    }
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { allow: "GET, HEAD" }).end();
      return;
    }
    let size: number;
    try {
      const st = statSync(file);
      if (!st.isFile()) throw new Error("not a file");
      size = st.size;
    } catch {
      res.writeHead(404, { "content-type": "text/plain" }).end(`not found: ${path}\n`);
      return;
    }
    res.writeHead(200, { "content-type": type, "content-length": size, "cache-control": "no-store" });
    if (req.method === "HEAD") res.end();
    else createReadStream(file).pipe(res);
  });
  server.listen(options.port ?? 0, host);
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  const shownHost = host.includes(":") ? `[${host}]` : host;
  const query = tracePath === undefined ? "" : `?trace=trace&name=${encodeURIComponent(basename(tracePath))}`;
  return {
    server,
    url: `http://${shownHost}:${port}/${query}`,
    close: () => new Promise<void>((done) => server.close(() => done())),
  };
}

/** A checked `memattr viz` command line. */
export interface VizCommand {
  tracePath: string | undefined;
  port: number;
  /** True when --port was given (else the default port, or any free one when it is taken). */
  portGiven: boolean;
  host: string;
}

/**
 * Reads a `memattr viz` command line.
 * @returns the command, or `"help"` for -h/--help.
 * @throws UsageError for anything the command cannot run.
 */
export function parseVizArgs(args: string[]): VizCommand | "help" {
  const { values, positionals } = parseOptions({
    args,
    allowPositionals: true,
    options: { port: { type: "string" }, host: { type: "string" }, help: { type: "boolean", short: "h" } },
  });
  if (values.help) return "help";
  if (positionals.length > 1) throw new UsageError(`one trace at most, got ${positionals.length}`);
  const port = values.port === undefined ? 5178 : intOption("port", values.port, 0, 65535)!;
  return { tracePath: positionals[0], port, portGiven: values.port !== undefined, host: values.host ?? "127.0.0.1" };
}

/** `memattr viz [TRACE] [--port N] [--host H]`. */
export async function run(args: string[]): Promise<number> {
  let cmd: VizCommand | "help";
  try {
    cmd = parseVizArgs(args);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`memattr viz: ${err.message}\n\n${USAGE}`);
    return 2;
  }
  if (cmd === "help") {
    process.stdout.write(USAGE);
    return 0;
  }
  const { tracePath, port, host } = cmd;
  if (tracePath !== undefined && !existsSync(tracePath)) {
    process.stderr.write(`memattr viz: no such trace file: ${tracePath}\n`);
    return 2;
  }
  let root: string;
  try {
    root = await ensureVizDist();
  } catch (err) {
    process.stderr.write(`memattr viz: ${(err as Error).message}\n`);
    return 1;
  }
  let viz: VizServer;
  try {
    viz = await serveViz({ root, port, host, ...(tracePath === undefined ? {} : { tracePath }) });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EADDRINUSE" || cmd.portGiven) throw err;
    viz = await serveViz({ root, port: 0, host, ...(tracePath === undefined ? {} : { tracePath }) }); // default port taken
  }
  process.stdout.write(`memattr viz: serving ${root}\n  ${viz.url}\n(Ctrl-C to stop)\n`);
  const signal = await Promise.race([once(process, "SIGINT"), once(process, "SIGTERM")]);
  void signal;
  await viz.close();
  return 0;
}
