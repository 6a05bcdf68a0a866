/**
 * A minimal reader of the protobuf wire format (no schema, no dependency): varints, 64-bit,
 * length-delimited and 32-bit fields, and packed repeated scalars. Every read is bounds-checked,
 * so a truncated or garbage buffer fails with a `ProtobufError` instead of reading past the end
 * or looping.
 */

export class ProtobufError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ProtobufError";
  }
}

/** Wire types of the protobuf encoding. Groups (3, 4) are deprecated and rejected. */
export const WireType = { VARINT: 0, I64: 1, LEN: 2, I32: 5 } as const;
export type WireTypeValue = (typeof WireType)[keyof typeof WireType];

export interface FieldHeader {
  field: number;
  wire: WireTypeValue;
}

const TWO_32 = 4294967296;

export class ProtoReader {
  private pos: number;
  private readonly end: number;
  private readonly view: DataView;

  constructor(
    readonly bytes: Uint8Array,
    start = 0,
    end = bytes.length,
  ) {
    if (start < 0 || end > bytes.length || start > end) throw new ProtobufError("message bounds outside the buffer");
    this.pos = start;
    this.end = end;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get done(): boolean {
    return this.pos >= this.end;
  }

  get offset(): number {
    return this.pos;
  }

  private need(n: number): void {
    if (n < 0 || this.pos + n > this.end) {
      throw new ProtobufError(`truncated: needs ${n} byte(s) at offset ${this.pos}, message ends at ${this.end}`);
    }
  }

  /** Reads the next field's key. */
  header(): FieldHeader {
    const at = this.pos;
    const key = this.varint();
    const wire = key % 8;
    const field = Math.floor(key / 8);
    if (field < 1 || field > 536870911) throw new ProtobufError(`invalid field number ${field} at offset ${at}`);
    if (wire !== 0 && wire !== 1 && wire !== 2 && wire !== 5) {
      throw new ProtobufError(`unsupported wire type ${wire} (field ${field}) at offset ${at}`);
    }
    return { field, wire: wire as WireTypeValue };
  }

  /**
   * An unsigned varint as a JS number (exact up to 2^53; larger values lose low bits). Use
   * `varintBig` where the full 64 bits matter.
   */
  varint(): number {
    let result = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      this.need(1);
      const b = this.bytes[this.pos++]!;
      result += (b & 0x7f) * mul;
      if (b < 0x80) return result;
      mul *= 128;
    }
    throw new ProtobufError(`varint longer than 10 bytes at offset ${this.pos - 10}`);
  }

  /** An unsigned varint as a 64-bit BigInt. */
  varintBig(): bigint {
    let result = 0n;
    let shift = 0n;
    for (let i = 0; i < 10; i++) {
      this.need(1);
      const b = this.bytes[this.pos++]!;
      result |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) return BigInt.asUintN(64, result);
      shift += 7n;
    }
    throw new ProtobufError(`varint longer than 10 bytes at offset ${this.pos - 10}`);
  }

  /** A varint read as a two's-complement int64 (the encoding of `int64`/`int32` fields). */
  int64(): number {
    return Number(BigInt.asIntN(64, this.varintBig()));
  }

  fixed32(): number {
    this.need(4);
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }

  float(): number {
    this.need(4);
    const v = this.view.getFloat32(this.pos, true);
    this.pos += 4;
    return v;
  }

  double(): number {
    this.need(8);
    const v = this.view.getFloat64(this.pos, true);
    this.pos += 8;
    return v;
  }

  fixed64(): number {
    this.need(8);
    const lo = this.view.getUint32(this.pos, true);
    const hi = this.view.getUint32(this.pos + 4, true);
    this.pos += 8;
    return hi * TWO_32 + lo;
  }

  /** The bounds [start, end) of a length-delimited field's payload; moves past it. */
  lengthDelimited(): { start: number; end: number } {
    const len = this.varint();
    this.need(len);
    const start = this.pos;
    this.pos += len;
    return { start, end: this.pos };
  }

  bytesField(): Uint8Array {
    const { start, end } = this.lengthDelimited();
    return this.bytes.subarray(start, end);
  }

  string(): string {
    return decoder.decode(this.bytesField());
  }

  /** A reader over an embedded message. */
  message(): ProtoReader {
    const { start, end } = this.lengthDelimited();
    return new ProtoReader(this.bytes, start, end);
  }

  /** Skips a field of the given wire type. */
  skip(wire: WireTypeValue): void {
    switch (wire) {
      case WireType.VARINT:
        this.varint();
        return;
      case WireType.I64:
        this.need(8);
        this.pos += 8;
        return;
      case WireType.LEN:
        this.lengthDelimited();
        return;
      case WireType.I32:
        this.need(4);
        this.pos += 4;
        return;
    }
  }

  /**
   * Reads a repeated varint field occurrence, packed (LEN) or not, appending the values as
   * signed int64 numbers.
   */
  repeatedInt64(wire: WireTypeValue, out: number[]): void {
    if (wire === WireType.LEN) {
      const sub = this.message();
      while (!sub.done) out.push(sub.int64());
    } else if (wire === WireType.VARINT) {
      out.push(this.int64());
    } else {
      throw new ProtobufError(`expected a varint field, got wire type ${wire}`);
    }
  }

  /** Reads a repeated float field occurrence, packed (LEN) or not. */
  repeatedFloat(wire: WireTypeValue, out: number[]): void {
    if (wire === WireType.LEN) {
      const sub = this.message();
      while (!sub.done) out.push(sub.float());
    } else if (wire === WireType.I32) {
      out.push(this.float());
    } else {
      throw new ProtobufError(`expected a float field, got wire type ${wire}`);
    }
  }

  /** Reads a repeated double field occurrence, packed (LEN) or not. */
  repeatedDouble(wire: WireTypeValue, out: number[]): void {
    if (wire === WireType.LEN) {
      const sub = this.message();
      while (!sub.done) out.push(sub.double());
    } else if (wire === WireType.I64) {
      out.push(this.double());
    } else {
      throw new ProtobufError(`expected a double field, got wire type ${wire}`);
    }
  }

  /** Reads a repeated uint64 field occurrence, packed (LEN) or not. */
  repeatedUint64(wire: WireTypeValue, out: number[]): void {
    if (wire === WireType.LEN) {
      const sub = this.message();
      while (!sub.done) out.push(sub.varint());
    } else if (wire === WireType.VARINT) {
      out.push(this.varint());
    } else {
      throw new ProtobufError(`expected a varint field, got wire type ${wire}`);
    }
  }
}

const decoder = new TextDecoder("utf-8", { fatal: false });
