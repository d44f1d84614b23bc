#!/usr/bin/env node
// The `memattr` command: a thin dispatcher; each subcommand lives in its own file under
// src/cli/ and exports `run(args: string[]): Promise<number>` (the exit code).

const COMMANDS: Record<string, { file: string; summary: string }> = {
  demo: { file: "./demo.js", summary: "run the main demo job (what `npm start` runs)" },
  probe: { file: "./probe.js", summary: "print this host's KVM capabilities for private memory" },
  replay: { file: "./replay.js", summary: "replay a trace or generator through each discard policy" },
  trace: { file: "./trace.js", summary: "generate or import conversion traces" },
  viz: { file: "./viz.js", summary: "serve the browser visualiser on 127.0.0.1" },
  vmm: { file: "./vmm.js", summary: "boot a tiny guest on /dev/kvm that drives conversions" },
};

function usage(): string {
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(8)} ${c.summary}`);
  return `usage: memattr <command> [options]\n\ncommands:\n${lines.join("\n")}\n`;
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "-h" || name === "--help" || name === "help") {
    process.stdout.write(usage());
    return name === undefined ? 2 : 0;
  }
  const command = COMMANDS[name];
  if (command === undefined) {
    process.stderr.write(`memattr: unknown command '${name}'\n\n${usage()}`);
    return 2;
  }
  const mod = (await import(command.file)) as { run(args: string[]): Promise<number> };
  return mod.run(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    const e = err as { name?: string; code?: string; message?: string };
    process.stderr.write(`memattr: ${e?.name ?? "Error"}${e?.code ? ` [${e.code}]` : ""}: ${e?.message ?? String(err)}\n`);
    process.exitCode = 1;
  },
);
