// Head+tail capture of a process stream: memory stays bounded however much a command prints.

export interface CapturedOutput {
  text: string;
  truncated: boolean;
  totalBytes: number;
}

export function omissionMarker(bytes: number): string {
  return `\n[... ${bytes} bytes omitted by Tollgate (output cap) ...]\n`;
}

export class HeadTail {
  private readonly head: Buffer[] = [];
  private headBytes = 0;
  private tail: Buffer[] = [];
  private tailBytes = 0;
  private total = 0;
  private readonly headCap: number;
  private readonly tailCap: number;

  constructor(maxBytes: number) {
    this.headCap = Math.ceil(maxBytes / 2);
    this.tailCap = Math.floor(maxBytes / 2);
  }

  push(chunk: Buffer): void {
    this.total += chunk.length;
    if (this.headBytes < this.headCap) {
      const take = Math.min(chunk.length, this.headCap - this.headBytes);
      this.head.push(chunk.subarray(0, take));
      this.headBytes += take;
      chunk = chunk.subarray(take);
    }
    if (chunk.length === 0 || this.tailCap === 0) return;
    this.tail.push(chunk);
    this.tailBytes += chunk.length;
    // Drop whole chunks from the front while the rest still fills the tail window.
    while (this.tail.length > 1 && this.tailBytes - this.tail[0]!.length >= this.tailCap) {
      this.tailBytes -= this.tail.shift()!.length;
    }
  }

  result(): CapturedOutput {
    let tail = Buffer.concat(this.tail);
    if (tail.length > this.tailCap) tail = tail.subarray(tail.length - this.tailCap);
    const head = Buffer.concat(this.head);
    const omitted = this.total - head.length - tail.length;
    const text = omitted > 0 ? head.toString('utf8') + omissionMarker(omitted) + tail.toString('utf8') : head.toString('utf8') + tail.toString('utf8');
    return { text, truncated: omitted > 0, totalBytes: this.total };
  }
}
