// Splits text arriving in chunks into lines, for every source a trace can come from: a whole
// string, a sync iterable of chunks (string pieces, or lines), an async iterable of chunks (a
// Node stream, `for await` over a browser `File.stream()`), or a WHATWG `ReadableStream`.
// Chunks may be strings or UTF-8 bytes; a line may span chunks; "\r\n" counts as "\n".
// Internal: the public readers live in parse.ts and import.ts.

/** A chunk of trace text: a string, or UTF-8 bytes. */
export type TextChunk = string | Uint8Array;

/** Anything a trace reader accepts. */
export type TextSource = string | Iterable<TextChunk> | AsyncIterable<TextChunk> | ReadableStream<TextChunk>;

class LineSplitter {
  private rest = "";
  private decoder: TextDecoder | undefined;

  /** Appends a chunk; returns the lines it completes. */
  push(chunk: TextChunk): string[] {
    let text: string;
    if (typeof chunk === "string") text = chunk;
    else {
      this.decoder ??= new TextDecoder("utf-8");
      text = this.decoder.decode(chunk, { stream: true });
    }
    const lines: string[] = [];
    let start = 0;
    let nl = text.indexOf("\n");
    if (nl < 0) {
      this.rest += text;
      return lines;
    }
    lines.push(stripCr(this.rest + text.slice(0, nl)));
    start = nl + 1;
    while ((nl = text.indexOf("\n", start)) >= 0) {
      lines.push(stripCr(text.slice(start, nl)));
      start = nl + 1;
    }
    this.rest = text.slice(start);
    return lines;
  }

  /** The last line when the input does not end with a newline (a possibly truncated line). */
  finish(): string | undefined {
    if (this.decoder) this.rest += this.decoder.decode();
    const last = this.rest;
    this.rest = "";
    return last.length > 0 ? stripCr(last) : undefined;
  }
}

function stripCr(line: string): string {
  return line.endsWith("\r") ? line.slice(0, -1) : line;
}

/** Lines of a string or a sync iterable of chunks, lazily. */
export function* linesOf(source: string | Iterable<TextChunk>): Generator<string> {
  const splitter = new LineSplitter();
  if (typeof source === "string") {
    yield* splitter.push(source);
  } else {
    for (const chunk of source) yield* splitter.push(chunk);
  }
  const last = splitter.finish();
  if (last !== undefined) yield last;
}

function isReadableStream(s: unknown): s is ReadableStream<TextChunk> {
  return typeof s === "object" && s !== null && typeof (s as ReadableStream).getReader === "function";
}

function isAsyncIterable(s: unknown): s is AsyncIterable<TextChunk> {
  return typeof s === "object" && s !== null && typeof (s as AsyncIterable<TextChunk>)[Symbol.asyncIterator] === "function";
}

/** Lines of any {@link TextSource}, lazily. */
export async function* linesOfAsync(source: TextSource): AsyncGenerator<string> {
  if (typeof source === "string" || (!isAsyncIterable(source) && !isReadableStream(source))) {
    yield* linesOf(source as string | Iterable<TextChunk>);
    return;
  }
  const splitter = new LineSplitter();
  if (isAsyncIterable(source)) {
    for await (const chunk of source) yield* splitter.push(chunk);
  } else {
    // Safari's ReadableStream is not async-iterable: read it by hand.
    const reader = (source as ReadableStream<TextChunk>).getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        yield* splitter.push(value);
      }
    } finally {
      reader.releaseLock();
    }
  }
  const last = splitter.finish();
  if (last !== undefined) yield last;
}
