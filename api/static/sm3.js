/* SM3 cryptographic hash (GB/T 32905-2016), incremental, in plain JavaScript. No dependencies.
 *
 *   const h = new SM3(); h.update(bytes); h.update(more); const digest = h.digest();  // Uint8Array(32)
 *   SM3.hex(bytes)  // one-shot, lower-case hex
 *
 * Test vector (GB/T 32905 appendix A.1): SM3("abc") =
 *   66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0
 */
(function (global) {
  "use strict";

  var IV = [0x7380166f, 0x4914b2b9, 0x172442d7, 0xda8a0600, 0xa96f30bc, 0x163138aa, 0xe38dee4d, 0xb0fb0e4e];

  function rotl(x, n) {
    n &= 31;
    return n === 0 ? x | 0 : (x << n) | (x >>> (32 - n));
  }
  function p0(x) { return x ^ rotl(x, 9) ^ rotl(x, 17); }
  function p1(x) { return x ^ rotl(x, 15) ^ rotl(x, 23); }

  // T_j rotated left by j mod 32, precomputed.
  var TROT = new Int32Array(64);
  for (var j = 0; j < 64; j++) TROT[j] = rotl(j < 16 ? 0x79cc4519 : 0x7a879d8a, j % 32);

  function SM3() {
    this.v = new Int32Array(IV);
    this.block = new Uint8Array(64);
    this.used = 0;          // bytes in this.block
    this.length = 0;        // total bytes hashed (a Number: exact up to 2^53)
    this.w = new Int32Array(68);
    this.finished = false;
  }

  SM3.prototype._compress = function (buf, off) {
    var w = this.w, v = this.v, j;
    for (j = 0; j < 16; j++) {
      var o = off + 4 * j;
      w[j] = (buf[o] << 24) | (buf[o + 1] << 16) | (buf[o + 2] << 8) | buf[o + 3];
    }
    for (j = 16; j < 68; j++) {
      w[j] = p1(w[j - 16] ^ w[j - 9] ^ rotl(w[j - 3], 15)) ^ rotl(w[j - 13], 7) ^ w[j - 6];
    }
    var a = v[0], b = v[1], c = v[2], d = v[3], e = v[4], f = v[5], g = v[6], h = v[7];
    for (j = 0; j < 64; j++) {
      var a12 = rotl(a, 12);
      var ss1 = rotl((a12 + e + TROT[j]) | 0, 7);
      var ss2 = ss1 ^ a12;
      var ff, gg;
      if (j < 16) {
        ff = a ^ b ^ c;
        gg = e ^ f ^ g;
      } else {
        ff = (a & b) | (a & c) | (b & c);
        gg = (e & f) | (~e & g);
      }
      var tt1 = (ff + d + ss2 + (w[j] ^ w[j + 4])) | 0;
      var tt2 = (gg + h + ss1 + w[j]) | 0;
      d = c;
      c = rotl(b, 9);
      b = a;
      a = tt1;
      h = g;
      g = rotl(f, 19);
      f = e;
      e = p0(tt2);
    }
    v[0] ^= a; v[1] ^= b; v[2] ^= c; v[3] ^= d; v[4] ^= e; v[5] ^= f; v[6] ^= g; v[7] ^= h;
  };

  /** Feed bytes (Uint8Array, ArrayBuffer or string, strings as UTF-8). Returns this. */
  SM3.prototype.update = function (data) {
    if (this.finished) throw new Error("SM3: update after digest");
    var bytes = toBytes(data), i = 0, n = bytes.length;
    this.length += n;
    if (this.used > 0) {
      var take = Math.min(64 - this.used, n);
      this.block.set(bytes.subarray(0, take), this.used);
      this.used += take;
      i = take;
      if (this.used === 64) {
        this._compress(this.block, 0);
        this.used = 0;
      }
    }
    for (; i + 64 <= n; i += 64) this._compress(bytes, i);
    if (i < n) {
      this.block.set(bytes.subarray(i), 0);
      this.used = n - i;
    }
    return this;
  };

  /** The 32-byte digest (Uint8Array). The hasher cannot be updated afterwards. */
  SM3.prototype.digest = function () {
    if (this.finished) throw new Error("SM3: digest called twice");
    this.finished = true;
    var bits = this.length * 8;
    var pad = new Uint8Array((this.used < 56 ? 64 : 128) - this.used);
    pad[0] = 0x80;
    var hi = Math.floor(bits / 4294967296), lo = bits >>> 0;
    var L = pad.length;
    pad[L - 8] = hi >>> 24; pad[L - 7] = hi >>> 16; pad[L - 6] = hi >>> 8; pad[L - 5] = hi;
    pad[L - 4] = lo >>> 24; pad[L - 3] = lo >>> 16; pad[L - 2] = lo >>> 8; pad[L - 1] = lo;
    this.finished = false;
    this.length -= pad.length; // update() counts the padding; keep the message length as it was
    this.update(pad);
    this.finished = true;
    var out = new Uint8Array(32);
    for (var k = 0; k < 8; k++) {
      out[4 * k] = this.v[k] >>> 24; out[4 * k + 1] = this.v[k] >>> 16;
      out[4 * k + 2] = this.v[k] >>> 8; out[4 * k + 3] = this.v[k];
    }
    return out;
  };

  function toBytes(data) {
    if (data instanceof Uint8Array) return data;
    if (data instanceof ArrayBuffer) return new Uint8Array(data);
    if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    if (typeof data === "string") return new TextEncoder().encode(data);
    throw new TypeError("SM3: expected bytes or a string");
  }

  function hex(bytes) {
    var s = "";
    for (var i = 0; i < bytes.length; i++) s += (bytes[i] < 16 ? "0" : "") + bytes[i].toString(16);
    return s;
  }

  SM3.toHex = hex;
  SM3.hex = function (data) { return hex(new SM3().update(data).digest()); };
  global.SM3 = SM3;
})(typeof window !== "undefined" ? window : globalThis);
