// URL and URLSearchParams, after the WHATWG URL Standard (https://url.spec.whatwg.org/).
//
// Everything lives in one inner scope so that the many small helpers cannot collide with
// names in the other runtime files. Two functions are exported to those files:
//   parseURL(input, base)      -> a frozen snapshot of the parsed URL's parts, or null
//   urlSearchParamsBody(value) -> value's application/x-www-form-urlencoded form if value
//                                 is a URLSearchParams, else null (fetch body extraction)
// Both work on internal state, so a script that patches URL.prototype cannot fool them.
//
// Not implemented: the full UTS #46 mapping table (we approximate it with lowercasing,
// NFKC, a few explicit lists and Unicode property escapes), blob URL entries
// (URL.createObjectURL), and non-UTF-8 encodings.

const { parseURL, urlSearchParamsBody } = (() => {
  // ---- Code points and percent-encoding ------------------------------------------------

  const HEX_DIGITS = "0123456789ABCDEF";
  const NON_ASCII = /[^\u0000-\u007F]/;
  const ASCII_ALPHA = /^[A-Za-z]$/;
  const ASCII_DIGIT = /^[0-9]$/;
  const ASCII_HEX_DIGIT = /^[0-9A-Fa-f]$/;
  const SCHEME_CHAR = /^[A-Za-z0-9+\-.]$/;

  // A percent-encode set: which ASCII code points get encoded. Every set contains the C0
  // control set, so code points above U+007E are always encoded.
  function encodeSet(parent, extra) {
    const set = parent ? parent.slice() : new Uint8Array(128);
    if (!parent) {
      for (let cp = 0; cp < 0x20; cp++) set[cp] = 1;
      set[0x7f] = 1;
    }
    for (const ch of extra) set[ch.charCodeAt(0)] = 1;
    return set;
  }
  const C0_CONTROL_SET = encodeSet(null, "");
  const FRAGMENT_SET = encodeSet(C0_CONTROL_SET, ' "<>`');
  const QUERY_SET = encodeSet(C0_CONTROL_SET, ' "#<>');
  const SPECIAL_QUERY_SET = encodeSet(QUERY_SET, "'");
  const PATH_SET = encodeSet(QUERY_SET, "?^`{}");
  const USERINFO_SET = encodeSet(PATH_SET, "/:;=@[\\]|");
  const COMPONENT_SET = encodeSet(USERINFO_SET, "$%&+,");
  const FORM_URLENCODED_SET = encodeSet(COMPONENT_SET, "!'()~");

  function utf8EncodeCodePoint(cp, bytes) {
    if (cp < 0x80) {
      bytes.push(cp);
    } else if (cp < 0x800) {
      bytes.push(0xc0 | (cp >> 6), 0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
      bytes.push(0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f));
    } else {
      bytes.push(0xf0 | (cp >> 18), 0x80 | ((cp >> 12) & 0x3f), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f));
    }
    return bytes;
  }

  function utf8Encode(text) {
    const bytes = [];
    for (const ch of text) utf8EncodeCodePoint(ch.codePointAt(0), bytes);
    return bytes;
  }

  // The Encoding Standard's UTF-8 decoder: each maximal invalid subpart becomes U+FFFD.
  function utf8Decode(bytes) {
    let out = "";
    let codePoint = 0, needed = 0, seen = 0, lower = 0x80, upper = 0xbf;
    for (let i = 0; i < bytes.length; i++) {
      const byte = bytes[i];
      if (needed === 0) {
        if (byte <= 0x7f) {
          out += String.fromCharCode(byte);
        } else if (byte >= 0xc2 && byte <= 0xdf) {
          needed = 1;
          codePoint = byte & 0x1f;
        } else if (byte >= 0xe0 && byte <= 0xef) {
          if (byte === 0xe0) lower = 0xa0;
          if (byte === 0xed) upper = 0x9f;
          needed = 2;
          codePoint = byte & 0x0f;
        } else if (byte >= 0xf0 && byte <= 0xf4) {
          if (byte === 0xf0) lower = 0x90;
          if (byte === 0xf4) upper = 0x8f;
          needed = 3;
          codePoint = byte & 0x07;
        } else {
          out += "\uFFFD";
        }
        continue;
      }
      if (byte < lower || byte > upper) {
        // Not a continuation: emit U+FFFD and read this byte again as a fresh start.
        codePoint = needed = seen = 0;
        lower = 0x80;
        upper = 0xbf;
        out += "\uFFFD";
        i--;
        continue;
      }
      lower = 0x80;
      upper = 0xbf;
      codePoint = (codePoint << 6) | (byte & 0x3f);
      if (++seen === needed) {
        out += String.fromCodePoint(codePoint);
        codePoint = needed = seen = 0;
      }
    }
    if (needed !== 0) out += "\uFFFD";
    return out;
  }

  function percentEncodeCodePoint(ch, set) {
    const cp = ch.codePointAt(0);
    if (cp < 0x80 && set[cp] === 0) return ch;
    let out = "";
    for (const byte of utf8EncodeCodePoint(cp, [])) {
      out += "%" + HEX_DIGITS[byte >> 4] + HEX_DIGITS[byte & 0x0f];
    }
    return out;
  }

  function percentEncodeString(text, set, spaceAsPlus = false) {
    let out = "";
    for (const ch of text) out += spaceAsPlus && ch === " " ? "+" : percentEncodeCodePoint(ch, set);
    return out;
  }

  // Percent-decode the UTF-8 form of text, then UTF-8 decode the bytes.
  function percentDecodeString(text) {
    if (!text.includes("%")) return text;
    const input = utf8Encode(text);
    const bytes = [];
    for (let i = 0; i < input.length; i++) {
      const byte = input[i];
      if (byte === 0x25 && i + 2 < input.length) {
        const high = hexValue(input[i + 1]);
        const low = hexValue(input[i + 2]);
        if (high >= 0 && low >= 0) {
          bytes.push((high << 4) | low);
          i += 2;
          continue;
        }
      }
      bytes.push(byte);
    }
    return utf8Decode(bytes);
  }

  function hexValue(byte) {
    if (byte >= 0x30 && byte <= 0x39) return byte - 0x30;
    if (byte >= 0x41 && byte <= 0x46) return byte - 0x37;
    if (byte >= 0x61 && byte <= 0x66) return byte - 0x57;
    return -1;
  }

  // ---- Punycode (RFC 3492) -------------------------------------------------------------

  const PUNY_BASE = 36, PUNY_TMIN = 1, PUNY_TMAX = 26, PUNY_SKEW = 38, PUNY_DAMP = 700;
  const PUNY_INITIAL_BIAS = 72, PUNY_INITIAL_N = 128, PUNY_MAXINT = 0x7fffffff;

  function punyAdapt(delta, numPoints, firstTime) {
    delta = firstTime ? Math.floor(delta / PUNY_DAMP) : Math.floor(delta / 2);
    delta += Math.floor(delta / numPoints);
    let k = 0;
    while (delta > ((PUNY_BASE - PUNY_TMIN) * PUNY_TMAX) >> 1) {
      delta = Math.floor(delta / (PUNY_BASE - PUNY_TMIN));
      k += PUNY_BASE;
    }
    return k + Math.floor(((PUNY_BASE - PUNY_TMIN + 1) * delta) / (delta + PUNY_SKEW));
  }

  function punyThreshold(k, bias) {
    if (k <= bias) return PUNY_TMIN;
    if (k >= bias + PUNY_TMAX) return PUNY_TMAX;
    return k - bias;
  }

  function punyDigitChar(digit) {
    return String.fromCharCode(digit < 26 ? 0x61 + digit : 0x30 + digit - 26);
  }

  function punyDigitValue(charCode) {
    if (charCode >= 0x30 && charCode <= 0x39) return charCode - 0x30 + 26;
    if (charCode >= 0x41 && charCode <= 0x5a) return charCode - 0x41;
    if (charCode >= 0x61 && charCode <= 0x7a) return charCode - 0x61;
    return -1;
  }

  function punycodeEncode(input) {
    const codePoints = Array.from(input, (ch) => ch.codePointAt(0));
    let output = "";
    for (const cp of codePoints) if (cp < 0x80) output += String.fromCharCode(cp);
    const basicCount = output.length;
    if (basicCount > 0) output += "-";
    let n = PUNY_INITIAL_N, delta = 0, bias = PUNY_INITIAL_BIAS, handled = basicCount;
    while (handled < codePoints.length) {
      let next = Infinity;
      for (const cp of codePoints) if (cp >= n && cp < next) next = cp;
      delta += (next - n) * (handled + 1);
      n = next;
      for (const cp of codePoints) {
        if (cp < n) delta++;
        if (cp !== n) continue;
        let q = delta;
        for (let k = PUNY_BASE; ; k += PUNY_BASE) {
          const t = punyThreshold(k, bias);
          if (q < t) break;
          output += punyDigitChar(t + ((q - t) % (PUNY_BASE - t)));
          q = Math.floor((q - t) / (PUNY_BASE - t));
        }
        output += punyDigitChar(q);
        bias = punyAdapt(delta, handled + 1, handled === basicCount);
        delta = 0;
        handled++;
      }
      delta++;
      n++;
    }
    return output;
  }

  // Returns null for anything that is not valid Punycode.
  function punycodeDecode(input) {
    const output = [];
    const delimiter = input.lastIndexOf("-");
    for (let j = 0; j < delimiter; j++) {
      const cp = input.charCodeAt(j);
      if (cp >= 0x80) return null;
      output.push(cp);
    }
    let n = PUNY_INITIAL_N, i = 0, bias = PUNY_INITIAL_BIAS;
    for (let pos = delimiter > 0 ? delimiter + 1 : 0; pos < input.length; ) {
      const oldI = i;
      let w = 1;
      for (let k = PUNY_BASE; ; k += PUNY_BASE) {
        if (pos >= input.length) return null;
        const digit = punyDigitValue(input.charCodeAt(pos++));
        if (digit < 0 || digit > Math.floor((PUNY_MAXINT - i) / w)) return null;
        i += digit * w;
        const t = punyThreshold(k, bias);
        if (digit < t) break;
        if (w > Math.floor(PUNY_MAXINT / (PUNY_BASE - t))) return null;
        w *= PUNY_BASE - t;
      }
      const length = output.length + 1;
      bias = punyAdapt(i - oldI, length, oldI === 0);
      if (Math.floor(i / length) > PUNY_MAXINT - n) return null;
      n += Math.floor(i / length);
      i %= length;
      if (n > 0x10ffff || (n >= 0xd800 && n <= 0xdfff)) return null;
      output.splice(i, 0, n);
      i++;
    }
    return String.fromCodePoint(...output);
  }

  // ---- IDNA: UTS #46 processing, approximated without the mapping table ------------------
  //
  // The URL Standard runs UTS #46 ToASCII with CheckHyphens=false, CheckBidi=true,
  // CheckJoiners=true, UseSTD3ASCIIRules=false, Transitional_Processing=false and no DNS
  // length checks. We map with lowercasing + NFKC, drop the "ignored" code points, reject
  // code points the table marks disallowed by their general category, and read the few
  // other properties we need (virama, joining type, bidi class) from property escapes.

  const ZWNJ = "\u200C", ZWJ = "\u200D";
  const IDNA_IGNORED = /[\u00AD\u034F\u180B-\u180F\u200B\u2060\u2064\u206A-\u206F\uFE00-\uFE0F\uFEFF\u{1BCA0}-\u{1BCA3}\u{E0100}-\u{E01EF}]/gu;
  // Controls, formats, unassigned, private use, surrogates, non-ASCII spaces and separators,
  // ideographic description characters, the replacement characters.
  const IDNA_DISALLOWED = /^[\p{Cc}\p{Cf}\p{Cn}\p{Co}\p{Cs}\p{Zs}\p{Zl}\p{Zp}\u2FF0-\u2FFF\uFFFC\uFFFD]$/u;
  const IDNA_FULL_STOPS = /^[\u3002\uFF0E\uFF61]$/;
  const CHEROKEE = /^\p{Script=Cherokee}$/u; // case-folds to upper case
  const COMBINING_MARK = /^\p{M}$/u;

  function idnaMapCodePoint(ch) {
    const cp = ch.codePointAt(0);
    if (cp < 0x80) return ch.toLowerCase();
    if (ch === ZWNJ || ch === ZWJ) return ch; // deviations, kept by nontransitional processing
    if (IDNA_FULL_STOPS.test(ch)) return ".";
    if (IDNA_DISALLOWED.test(ch)) return null;
    const compat = ch.normalize("NFKC");
    let mapped = "";
    for (const part of compat) mapped += CHEROKEE.test(part) ? part.toUpperCase() : part.toLowerCase();
    // The table disallows compatibility mappings that would smuggle in a label separator.
    if (mapped.includes(".")) return null;
    return mapped;
  }

  function idnaMap(domain) {
    let mapped = "";
    for (const ch of domain.replace(IDNA_IGNORED, "")) {
      const part = idnaMapCodePoint(ch);
      if (part === null) return null;
      mapped += part;
    }
    return mapped.normalize("NFC");
  }

  // A virama has canonical combining class 9. Canonical reordering exposes the class: a
  // mark sorts after U+3099 (class 8) and before U+05B0 (class 10) only if its class is 9.
  function isVirama(ch) {
    if (!COMBINING_MARK.test(ch)) return false;
    const afterClass8 = `a${ch}\u3099`.normalize("NFD") === `a\u3099${ch}`;
    const beforeClass10 = `a\u05B0${ch}`.normalize("NFD") === `a${ch}\u05B0`;
    return afterClass8 && beforeClass10;
  }

  // Joining types, roughly: letters of the cursive scripts join on both sides, and marks
  // and format characters are transparent.
  const JOINING_LETTER = /^(?=\p{L})[\p{sc=Arabic}\p{sc=Syriac}\p{sc=Nko}\p{sc=Mongolian}\p{sc=Mandaic}\p{sc=Manichaean}\p{sc=Psalter_Pahlavi}\p{sc=Adlam}\p{sc=Hanifi_Rohingya}\p{sc=Sogdian}\p{sc=Phags_Pa}]$/u;
  const JOINING_TRANSPARENT = /^[\p{Mn}\p{Me}\p{Cf}]$/u;

  function joinersAreValid(label) {
    const chars = Array.from(label);
    for (let i = 0; i < chars.length; i++) {
      if (chars[i] !== ZWNJ && chars[i] !== ZWJ) continue;
      if (i > 0 && isVirama(chars[i - 1])) continue;
      if (chars[i] === ZWJ) return false;
      // ZWNJ between joining letters: (L|D) T* ZWNJ T* (R|D)
      let before = i - 1;
      while (before >= 0 && JOINING_TRANSPARENT.test(chars[before]) && chars[before] !== ZWNJ) before--;
      let after = i + 1;
      while (after < chars.length && JOINING_TRANSPARENT.test(chars[after]) && chars[after] !== ZWNJ) after++;
      if (before < 0 || after >= chars.length) return false;
      if (!JOINING_LETTER.test(chars[before]) || !JOINING_LETTER.test(chars[after])) return false;
    }
    return true;
  }

  // Bidi classes, enough for the RFC 5893 rules: explicit lists for the numeric and
  // separator classes, blocks for the right-to-left scripts, categories for the rest.
  const BIDI_NSM = /^[\p{Mn}\p{Me}]$/u;
  const BIDI_EN = /^[0-9\u00B2\u00B3\u00B9\u06F0-\u06F9\u2070\u2074-\u2079\u2080-\u2089\u2488-\u249B\uFF10-\uFF19\u{1D7CE}-\u{1D7FF}\u{1F100}-\u{1F10A}]$/u;
  const BIDI_AN = /^[\u0600-\u0605\u0660-\u0669\u066B\u066C\u06DD\u0890\u0891\u08E2\u{10D30}-\u{10D39}\u{10E60}-\u{10E7E}]$/u;
  const BIDI_ES = /^[+\-\u207A\u207B\u208A\u208B\u2212\uFB29\uFE62\uFE63\uFF0B\uFF0D]$/u;
  const BIDI_CS = /^[,./:\u00A0\u060C\u202F\u2044\uFE50\uFE52\uFE55\uFF0C\uFF0E\uFF0F\uFF1A]$/u;
  const BIDI_ET = /^[#$%\u00A2-\u00A5\u00B0\u00B1\u0609\u060A\u066A\u09F2\u09F3\u09FB\u0AF1\u0BF9\u0E3F\u17DB\u2030-\u2034\u20A0-\u20CF\u212E\u2213\uA838\uA839\uFE5F\uFE69\uFE6A\uFF03-\uFF05\uFFE0\uFFE1\uFFE5\uFFE6]$/u;
  const BIDI_AL = /^[\u0600-\u07BF\u0860-\u08FF\uFB50-\uFDCF\uFDF0-\uFDFF\uFE70-\uFEFF\u{10D00}-\u{10D3F}\u{10EC0}-\u{10EFF}\u{10F30}-\u{10F6F}\u{1EC70}-\u{1ECBF}\u{1ED00}-\u{1ED4F}\u{1EE00}-\u{1EEFF}]$/u;
  const BIDI_R = /^[\u0590-\u05FF\u07C0-\u085F\uFB1D-\uFB4F\u{10800}-\u{10FFF}\u{1E800}-\u{1EFFF}]$/u;
  const BIDI_ON = /^[\p{P}\p{S}\p{Z}]$/u;
  const BIDI_BN = /^\p{C}$/u;

  function bidiClass(ch) {
    if (BIDI_NSM.test(ch)) return "NSM";
    if (BIDI_EN.test(ch)) return "EN";
    if (BIDI_AN.test(ch)) return "AN";
    if (BIDI_ES.test(ch)) return "ES";
    if (BIDI_CS.test(ch)) return "CS";
    if (BIDI_ET.test(ch)) return "ET";
    if (BIDI_AL.test(ch)) return "AL";
    if (BIDI_R.test(ch)) return "R";
    if (BIDI_ON.test(ch)) return "ON";
    if (BIDI_BN.test(ch)) return "BN";
    return "L";
  }

  const RTL_ALLOWED = new Set(["R", "AL", "AN", "EN", "ES", "CS", "ET", "ON", "BN", "NSM"]);
  const LTR_ALLOWED = new Set(["L", "EN", "ES", "CS", "ET", "ON", "BN", "NSM"]);

  // RFC 5893 section 2, rules 1 to 6.
  function passesBidiRule(label) {
    if (label === "") return true;
    const classes = Array.from(label, bidiClass);
    let last = classes.length - 1;
    while (last > 0 && classes[last] === "NSM") last--;
    const end = classes[last];
    if (classes[0] === "R" || classes[0] === "AL") {
      if (!classes.every((c) => RTL_ALLOWED.has(c))) return false;
      if (!["R", "AL", "EN", "AN"].includes(end)) return false;
      return !(classes.includes("EN") && classes.includes("AN"));
    }
    if (classes[0] !== "L") return false;
    return classes.every((c) => LTR_ALLOWED.has(c)) && (end === "L" || end === "EN");
  }

  function isBidiDomain(labels) {
    return labels.some((label) => Array.from(label).some((ch) => {
      const cls = bidiClass(ch);
      return cls === "R" || cls === "AL" || cls === "AN";
    }));
  }

  // UTS #46 section 4.1 validity criteria (with CheckHyphens=false).
  function labelIsValid(label) {
    if (label === "") return true;
    if (label.normalize("NFC") !== label) return false;
    if (label.startsWith("xn--")) return false;
    if (COMBINING_MARK.test(String.fromCodePoint(label.codePointAt(0)))) return false;
    return joinersAreValid(label);
  }

  function uts46ToASCII(domain) {
    const mapped = idnaMap(domain);
    if (mapped === null) return null;
    const labels = [];
    for (const label of mapped.split(".")) {
      let unicode = label;
      if (label.startsWith("xn--")) {
        if (NON_ASCII.test(label)) return null;
        unicode = punycodeDecode(label.slice(4));
        if (unicode === null || unicode === "" || !NON_ASCII.test(unicode)) return null;
        // A decoded label must already be in mapped form: no upper case, nothing ignored.
        if (idnaMap(unicode) !== unicode) return null;
      }
      if (!labelIsValid(unicode)) return null;
      labels.push(unicode);
    }
    if (isBidiDomain(labels) && !labels.every(passesBidiRule)) return null;
    return labels.map((label) => (NON_ASCII.test(label) ? "xn--" + punycodeEncode(label) : label)).join(".");
  }

  // The URL Standard's "domain to ASCII" with beStrict=false. ASCII domains are only
  // lowercased, xn-- labels included (WPT toascii.json: "xn--a" stays, "xn--a.ß" fails).
  function domainToASCII(domain) {
    if (!NON_ASCII.test(domain)) return domain.toLowerCase();
    const result = uts46ToASCII(domain);
    return result === "" ? null : result;
  }

  // ---- Hosts -----------------------------------------------------------------------------
  //
  // A URL record keeps its host serialized: a domain, a dotted IPv4 address, a bracketed
  // IPv6 address, an opaque host, "" (the empty host) or null (no host).

  const FORBIDDEN_HOST = /[\u0000\t\n\r #/:<>?@[\\\]^|]/;
  const FORBIDDEN_DOMAIN = /[\u0000-\u0020#%/:<>?@[\\\]^|\u007F]/;

  function parseHost(input, isOpaque) {
    if (input.startsWith("[")) {
      if (!input.endsWith("]")) return null;
      const address = parseIPv6(input.slice(1, -1));
      return address === null ? null : `[${serializeIPv6(address)}]`;
    }
    if (isOpaque) {
      if (FORBIDDEN_HOST.test(input)) return null;
      return percentEncodeString(input, C0_CONTROL_SET);
    }
    const asciiDomain = domainToASCII(percentDecodeString(input));
    if (asciiDomain === null || FORBIDDEN_DOMAIN.test(asciiDomain)) return null;
    if (endsInANumber(asciiDomain)) {
      const address = parseIPv4(asciiDomain);
      return address === null ? null : serializeIPv4(address);
    }
    return asciiDomain;
  }

  function endsInANumber(domain) {
    const parts = domain.split(".");
    if (parts[parts.length - 1] === "") {
      if (parts.length === 1) return false;
      parts.pop();
    }
    const last = parts[parts.length - 1];
    return /^[0-9]+$/.test(last) || /^0[xX][0-9A-Fa-f]*$/.test(last);
  }

  // Each part may be decimal, octal (leading 0) or hexadecimal (leading 0x).
  function parseIPv4Number(part) {
    if (part === "") return null;
    let radix = 10;
    if (/^0[xX]/.test(part)) {
      part = part.slice(2);
      radix = 16;
    } else if (part.length > 1 && part[0] === "0") {
      part = part.slice(1);
      radix = 8;
    }
    if (part === "") return 0;
    const valid = radix === 10 ? /^[0-9]+$/ : radix === 16 ? /^[0-9A-Fa-f]+$/ : /^[0-7]+$/;
    if (!valid.test(part)) return null;
    return parseInt(part, radix);
  }

  function parseIPv4(input) {
    const parts = input.split(".");
    if (parts[parts.length - 1] === "" && parts.length > 1) parts.pop();
    if (parts.length > 4) return null;
    const numbers = [];
    for (const part of parts) {
      const number = parseIPv4Number(part);
      if (number === null) return null;
      numbers.push(number);
    }
    const last = numbers.pop();
    if (numbers.some((n) => n > 255)) return null;
    if (last >= 256 ** (4 - numbers.length)) return null;
    let address = last;
    numbers.forEach((n, i) => { address += n * 256 ** (3 - i); });
    return address;
  }

  function serializeIPv4(address) {
    return [address >>> 24, (address >>> 16) & 0xff, (address >>> 8) & 0xff, address & 0xff].join(".");
  }

  function parseIPv6(input) {
    const address = [0, 0, 0, 0, 0, 0, 0, 0];
    let pieceIndex = 0, compress = null, pointer = 0;
    const at = (i) => input[i]; // undefined past the end
    if (at(0) === ":") {
      if (at(1) !== ":") return null;
      pointer = 2;
      compress = ++pieceIndex;
    }
    while (at(pointer) !== undefined) {
      if (pieceIndex === 8) return null;
      if (at(pointer) === ":") {
        if (compress !== null) return null;
        pointer++;
        compress = ++pieceIndex;
        continue;
      }
      let value = 0, length = 0;
      while (length < 4 && at(pointer) !== undefined && ASCII_HEX_DIGIT.test(at(pointer))) {
        value = value * 16 + parseInt(at(pointer), 16);
        pointer++;
        length++;
      }
      if (at(pointer) === ".") {
        // An embedded IPv4 address fills the last two pieces.
        if (length === 0) return null;
        pointer -= length;
        if (pieceIndex > 6) return null;
        let numbersSeen = 0;
        while (at(pointer) !== undefined) {
          let ipv4Piece = null;
          if (numbersSeen > 0) {
            if (at(pointer) === "." && numbersSeen < 4) pointer++;
            else return null;
          }
          if (at(pointer) === undefined || !ASCII_DIGIT.test(at(pointer))) return null;
          while (at(pointer) !== undefined && ASCII_DIGIT.test(at(pointer))) {
            const number = Number(at(pointer));
            if (ipv4Piece === null) ipv4Piece = number;
            else if (ipv4Piece === 0) return null;
            else ipv4Piece = ipv4Piece * 10 + number;
            if (ipv4Piece > 255) return null;
            pointer++;
          }
          address[pieceIndex] = address[pieceIndex] * 0x100 + ipv4Piece;
          numbersSeen++;
          if (numbersSeen === 2 || numbersSeen === 4) pieceIndex++;
        }
        if (numbersSeen !== 4) return null;
        break;
      } else if (at(pointer) === ":") {
        pointer++;
        if (at(pointer) === undefined) return null;
      } else if (at(pointer) !== undefined) {
        return null;
      }
      address[pieceIndex++] = value;
    }
    if (compress !== null) {
      let swaps = pieceIndex - compress;
      pieceIndex = 7;
      while (pieceIndex !== 0 && swaps > 0) {
        const swapIndex = compress + swaps - 1;
        [address[pieceIndex], address[swapIndex]] = [address[swapIndex], address[pieceIndex]];
        pieceIndex--;
        swaps--;
      }
    } else if (pieceIndex !== 8) {
      return null;
    }
    return address;
  }

  function serializeIPv6(address) {
    // Compress the first longest run of two or more zero pieces.
    let compress = null, bestLength = 1;
    for (let i = 0; i < 8; ) {
      let end = i;
      while (end < 8 && address[end] === 0) end++;
      if (end - i > bestLength) {
        compress = i;
        bestLength = end - i;
      }
      i = end === i ? i + 1 : end;
    }
    let output = "";
    for (let i = 0; i < 8; i++) {
      if (i === compress) {
        output += i === 0 ? "::" : ":";
        i += bestLength - 1;
        continue;
      }
      output += address[i].toString(16);
      if (i !== 7) output += ":";
    }
    return output;
  }

  // ---- URL records -------------------------------------------------------------------------

  const SPECIAL_SCHEMES = new Map([["ftp", 21], ["file", null], ["http", 80], ["https", 443], ["ws", 80], ["wss", 443]]);

  const isSpecial = (url) => SPECIAL_SCHEMES.has(url.scheme);
  const defaultPort = (scheme) => SPECIAL_SCHEMES.get(scheme) ?? null;
  const hasOpaquePath = (url) => typeof url.path === "string";
  const includesCredentials = (url) => url.username !== "" || url.password !== "";
  const cannotHaveCredentialsOrPort = (url) => url.host === null || url.host === "" || url.scheme === "file";

  function newRecord() {
    return { scheme: "", username: "", password: "", host: null, port: null, path: [], query: null, fragment: null };
  }

  function copyRecord(url) {
    return { ...url, path: hasOpaquePath(url) ? url.path : url.path.slice() };
  }

  const isWindowsDriveLetter = (text) => /^[A-Za-z][:|]$/.test(text);
  const isNormalizedWindowsDriveLetter = (text) => /^[A-Za-z]:$/.test(text);

  function startsWithWindowsDriveLetter(codePoints, pointer) {
    if (codePoints.length - pointer < 2) return false;
    if (!isWindowsDriveLetter(codePoints[pointer] + codePoints[pointer + 1])) return false;
    return codePoints.length - pointer === 2 || "/\\?#".includes(codePoints[pointer + 2]);
  }

  function shortenPath(url) {
    const path = url.path;
    if (url.scheme === "file" && path.length === 1 && isNormalizedWindowsDriveLetter(path[0])) return;
    path.pop();
  }

  const isSingleDot = (segment) => segment === "." || segment.toLowerCase() === "%2e";
  const isDoubleDot = (segment) => ["..", ".%2e", "%2e.", "%2e%2e"].includes(segment.toLowerCase());

  // ---- The basic URL parser ------------------------------------------------------------------

  const SCHEME_START = 1, SCHEME = 2, NO_SCHEME = 3, SPECIAL_RELATIVE_OR_AUTHORITY = 4,
    PATH_OR_AUTHORITY = 5, RELATIVE = 6, RELATIVE_SLASH = 7, SPECIAL_AUTHORITY_SLASHES = 8,
    SPECIAL_AUTHORITY_IGNORE_SLASHES = 9, AUTHORITY = 10, HOST = 11, HOSTNAME = 12, PORT = 13,
    FILE = 14, FILE_SLASH = 15, FILE_HOST = 16, PATH_START = 17, PATH = 18, OPAQUE_PATH = 19,
    QUERY = 20, FRAGMENT = 21;

  const LEADING_TRAILING_C0_OR_SPACE = /^[\u0000-\u0020]+|[\u0000-\u0020]+$/g;
  const TAB_OR_NEWLINE = /[\t\n\r]/g;

  // Returns the URL record, or null on failure. With a state override (the setters), url is
  // modified in place and the return value only tells failure apart.
  function basicParse(input, base, url = null, stateOverride = null) {
    if (url === null) {
      url = newRecord();
      input = input.replace(LEADING_TRAILING_C0_OR_SPACE, "");
    }
    const codePoints = Array.from(input.replace(TAB_OR_NEWLINE, ""));
    let state = stateOverride ?? SCHEME_START;
    let buffer = "";
    let atSignSeen = false, insideBrackets = false, passwordTokenSeen = false;

    for (let pointer = 0; pointer <= codePoints.length; pointer++) {
      const c = codePoints[pointer]; // undefined is EOF
      const special = isSpecial(url);
      switch (state) {
        case SCHEME_START:
          if (c !== undefined && ASCII_ALPHA.test(c)) {
            buffer += c.toLowerCase();
            state = SCHEME;
          } else if (stateOverride === null) {
            state = NO_SCHEME;
            pointer--;
          } else {
            return null;
          }
          break;

        case SCHEME:
          if (c !== undefined && SCHEME_CHAR.test(c)) {
            buffer += c.toLowerCase();
          } else if (c === ":") {
            if (stateOverride !== null) {
              // The protocol setter cannot cross between special and non-special schemes,
              // nor make a URL with credentials, a port or an empty host into a file URL.
              if (special !== SPECIAL_SCHEMES.has(buffer)) return url;
              if ((includesCredentials(url) || url.port !== null) && buffer === "file") return url;
              if (url.scheme === "file" && url.host === "") return url;
            }
            url.scheme = buffer;
            if (stateOverride !== null) {
              if (url.port === defaultPort(url.scheme)) url.port = null;
              return url;
            }
            buffer = "";
            if (url.scheme === "file") {
              state = FILE;
            } else if (isSpecial(url) && base !== null && base.scheme === url.scheme) {
              state = SPECIAL_RELATIVE_OR_AUTHORITY;
            } else if (isSpecial(url)) {
              state = SPECIAL_AUTHORITY_SLASHES;
            } else if (codePoints[pointer + 1] === "/") {
              state = PATH_OR_AUTHORITY;
              pointer++;
            } else {
              url.path = "";
              state = OPAQUE_PATH;
            }
          } else if (stateOverride === null) {
            // Not a scheme after all: start over without one.
            buffer = "";
            state = NO_SCHEME;
            pointer = -1;
          } else {
            return null;
          }
          break;

        case NO_SCHEME:
          if (base === null || (hasOpaquePath(base) && c !== "#")) return null;
          if (hasOpaquePath(base) && c === "#") {
            url.scheme = base.scheme;
            url.path = base.path;
            url.query = base.query;
            url.fragment = "";
            state = FRAGMENT;
          } else {
            state = base.scheme === "file" ? FILE : RELATIVE;
            pointer--;
          }
          break;

        case SPECIAL_RELATIVE_OR_AUTHORITY:
          if (c === "/" && codePoints[pointer + 1] === "/") {
            state = SPECIAL_AUTHORITY_IGNORE_SLASHES;
            pointer++;
          } else {
            state = RELATIVE;
            pointer--;
          }
          break;

        case PATH_OR_AUTHORITY:
          if (c === "/") {
            state = AUTHORITY;
          } else {
            state = PATH;
            pointer--;
          }
          break;

        case RELATIVE:
          url.scheme = base.scheme;
          if (c === "/" || (isSpecial(url) && c === "\\")) {
            state = RELATIVE_SLASH;
          } else {
            url.username = base.username;
            url.password = base.password;
            url.host = base.host;
            url.port = base.port;
            url.path = base.path.slice();
            url.query = base.query;
            if (c === "?") {
              url.query = "";
              state = QUERY;
            } else if (c === "#") {
              url.fragment = "";
              state = FRAGMENT;
            } else if (c !== undefined) {
              url.query = null;
              shortenPath(url);
              state = PATH;
              pointer--;
            }
          }
          break;

        case RELATIVE_SLASH:
          if (special && (c === "/" || c === "\\")) {
            state = SPECIAL_AUTHORITY_IGNORE_SLASHES;
          } else if (c === "/") {
            state = AUTHORITY;
          } else {
            url.username = base.username;
            url.password = base.password;
            url.host = base.host;
            url.port = base.port;
            state = PATH;
            pointer--;
          }
          break;

        case SPECIAL_AUTHORITY_SLASHES:
          state = SPECIAL_AUTHORITY_IGNORE_SLASHES;
          if (c === "/" && codePoints[pointer + 1] === "/") pointer++;
          else pointer--;
          break;

        case SPECIAL_AUTHORITY_IGNORE_SLASHES:
          if (c !== "/" && c !== "\\") {
            state = AUTHORITY;
            pointer--;
          }
          break;

        case AUTHORITY:
          if (c === "@") {
            // Everything up to the last @ is userinfo; earlier @s are part of it.
            if (atSignSeen) buffer = "%40" + buffer;
            atSignSeen = true;
            for (const ch of buffer) {
              if (ch === ":" && !passwordTokenSeen) {
                passwordTokenSeen = true;
                continue;
              }
              const encoded = percentEncodeCodePoint(ch, USERINFO_SET);
              if (passwordTokenSeen) url.password += encoded;
              else url.username += encoded;
            }
            buffer = "";
          } else if (c === undefined || c === "/" || c === "?" || c === "#" || (special && c === "\\")) {
            if (atSignSeen && buffer === "") return null;
            pointer -= Array.from(buffer).length + 1;
            buffer = "";
            state = HOST;
          } else {
            buffer += c;
          }
          break;

        case HOST:
        case HOSTNAME:
          if (stateOverride !== null && url.scheme === "file") {
            pointer--;
            state = FILE_HOST;
          } else if (c === ":" && !insideBrackets) {
            if (buffer === "") return null;
            if (stateOverride === HOSTNAME) return null;
            const host = parseHost(buffer, !special);
            if (host === null) return null;
            url.host = host;
            buffer = "";
            state = PORT;
          } else if (c === undefined || c === "/" || c === "?" || c === "#" || (special && c === "\\")) {
            pointer--;
            if (special && buffer === "") return null;
            if (stateOverride !== null && buffer === "" && (includesCredentials(url) || url.port !== null)) return null;
            const host = parseHost(buffer, !special);
            if (host === null) return null;
            url.host = host;
            buffer = "";
            state = PATH_START;
            if (stateOverride !== null) return url;
          } else {
            if (c === "[") insideBrackets = true;
            if (c === "]") insideBrackets = false;
            buffer += c;
          }
          break;

        case PORT:
          if (c !== undefined && ASCII_DIGIT.test(c)) {
            buffer += c;
          } else if (c === undefined || c === "/" || c === "?" || c === "#" || (special && c === "\\") || stateOverride !== null) {
            if (buffer !== "") {
              const port = Number(buffer);
              if (port > 65535) return null;
              url.port = port === defaultPort(url.scheme) ? null : port;
              buffer = "";
              if (stateOverride !== null) return url;
            }
            if (stateOverride !== null) return null;
            state = PATH_START;
            pointer--;
          } else {
            return null;
          }
          break;

        case FILE:
          url.scheme = "file";
          url.host = "";
          if (c === "/" || c === "\\") {
            state = FILE_SLASH;
          } else if (base !== null && base.scheme === "file") {
            url.host = base.host;
            url.path = base.path.slice();
            url.query = base.query;
            if (c === "?") {
              url.query = "";
              state = QUERY;
            } else if (c === "#") {
              url.fragment = "";
              state = FRAGMENT;
            } else if (c !== undefined) {
              url.query = null;
              if (!startsWithWindowsDriveLetter(codePoints, pointer)) shortenPath(url);
              else url.path = [];
              state = PATH;
              pointer--;
            }
          } else {
            state = PATH;
            pointer--;
          }
          break;

        case FILE_SLASH:
          if (c === "/" || c === "\\") {
            state = FILE_HOST;
          } else {
            if (base !== null && base.scheme === "file") {
              url.host = base.host;
              if (!startsWithWindowsDriveLetter(codePoints, pointer) && isNormalizedWindowsDriveLetter(base.path[0] ?? "")) {
                url.path.push(base.path[0]);
              }
            }
            state = PATH;
            pointer--;
          }
          break;

        case FILE_HOST:
          if (c === undefined || c === "/" || c === "\\" || c === "?" || c === "#") {
            pointer--;
            if (stateOverride === null && isWindowsDriveLetter(buffer)) {
              // "file://C:/": the drive letter is the first path segment, not a host. The
              // buffer is deliberately kept for the path state.
              state = PATH;
            } else if (buffer === "") {
              url.host = "";
              if (stateOverride !== null) return url;
              state = PATH_START;
            } else {
              let host = parseHost(buffer, !special);
              if (host === null) return null;
              if (host === "localhost") host = "";
              url.host = host;
              if (stateOverride !== null) return url;
              buffer = "";
              state = PATH_START;
            }
          } else {
            buffer += c;
          }
          break;

        case PATH_START:
          if (special) {
            state = PATH;
            if (c !== "/" && c !== "\\") pointer--;
          } else if (stateOverride === null && c === "?") {
            url.query = "";
            state = QUERY;
          } else if (stateOverride === null && c === "#") {
            url.fragment = "";
            state = FRAGMENT;
          } else if (c !== undefined) {
            state = PATH;
            if (c !== "/") pointer--;
          } else if (stateOverride !== null && url.host === null) {
            url.path.push("");
          }
          break;

        case PATH: {
          const slash = c === "/" || (special && c === "\\");
          if (c === undefined || slash || (stateOverride === null && (c === "?" || c === "#"))) {
            if (isDoubleDot(buffer)) {
              shortenPath(url);
              if (!slash) url.path.push("");
            } else if (isSingleDot(buffer) && !slash) {
              url.path.push("");
            } else if (!isSingleDot(buffer)) {
              if (url.scheme === "file" && url.path.length === 0 && isWindowsDriveLetter(buffer)) {
                buffer = buffer[0] + ":";
              }
              url.path.push(buffer);
            }
            buffer = "";
            if (c === "?") {
              url.query = "";
              state = QUERY;
            } else if (c === "#") {
              url.fragment = "";
              state = FRAGMENT;
            }
          } else {
            buffer += percentEncodeCodePoint(c, PATH_SET);
          }
          break;
        }

        case OPAQUE_PATH:
          if (c === "?") {
            url.query = "";
            state = QUERY;
          } else if (c === "#") {
            url.fragment = "";
            state = FRAGMENT;
          } else if (c === " ") {
            // A space right before the query or fragment is encoded, so that removing
            // those later cannot leave a trailing space behind.
            const next = codePoints[pointer + 1];
            url.path += next === "?" || next === "#" ? "%20" : " ";
          } else if (c !== undefined) {
            url.path += percentEncodeCodePoint(c, C0_CONTROL_SET);
          }
          break;

        case QUERY:
          if ((stateOverride === null && c === "#") || c === undefined) {
            url.query += percentEncodeString(buffer, special ? SPECIAL_QUERY_SET : QUERY_SET);
            buffer = "";
            if (c === "#") {
              url.fragment = "";
              state = FRAGMENT;
            }
          } else {
            buffer += c;
          }
          break;

        case FRAGMENT:
          if (c !== undefined) url.fragment += percentEncodeCodePoint(c, FRAGMENT_SET);
          break;
      }
    }
    return url;
  }

  // ---- Serializers and origin ----------------------------------------------------------------

  function serializePath(url) {
    if (hasOpaquePath(url)) return url.path;
    let output = "";
    for (const segment of url.path) output += "/" + segment;
    return output;
  }

  function serializeURL(url, excludeFragment = false) {
    let output = url.scheme + ":";
    if (url.host !== null) {
      output += "//";
      if (includesCredentials(url)) {
        output += url.username;
        if (url.password !== "") output += ":" + url.password;
        output += "@";
      }
      output += url.host;
      if (url.port !== null) output += ":" + url.port;
    }
    // "/." keeps a path like //x from being read back as a host.
    if (url.host === null && !hasOpaquePath(url) && url.path.length > 1 && url.path[0] === "") output += "/.";
    output += serializePath(url);
    if (url.query !== null) output += "?" + url.query;
    if (!excludeFragment && url.fragment !== null) output += "#" + url.fragment;
    return output;
  }

  function serializeOrigin(url) {
    switch (url.scheme) {
      case "blob": {
        const pathURL = basicParse(serializePath(url), null);
        if (pathURL !== null && (pathURL.scheme === "http" || pathURL.scheme === "https")) return serializeOrigin(pathURL);
        return "null";
      }
      case "ftp": case "http": case "https": case "ws": case "wss":
        return url.scheme + "://" + url.host + (url.port === null ? "" : ":" + url.port);
      default:
        return "null"; // an opaque origin, file: included
    }
  }

  // ---- application/x-www-form-urlencoded -------------------------------------------------------

  function parseFormUrlencoded(input) {
    const list = [];
    for (const sequence of input.split("&")) {
      if (sequence === "") continue;
      const equals = sequence.indexOf("=");
      const name = equals === -1 ? sequence : sequence.slice(0, equals);
      const value = equals === -1 ? "" : sequence.slice(equals + 1);
      list.push([percentDecodeString(name.replaceAll("+", " ")), percentDecodeString(value.replaceAll("+", " "))]);
    }
    return list;
  }

  function serializeFormUrlencoded(list) {
    return list
      .map(([name, value]) => percentEncodeString(name, FORM_URLENCODED_SET, true) + "=" + percentEncodeString(value, FORM_URLENCODED_SET, true))
      .join("&");
  }

  // ---- Web IDL conversions -------------------------------------------------------------------

  // USVString: ToString (a template literal throws on symbols, as Web IDL does), then
  // lone surrogates become U+FFFD.
  function toUSVString(value) {
    return `${value}`.toWellFormed();
  }

  function requireArguments(given, required, what) {
    if (given < required) {
      throw new TypeError(`${what}: ${required} argument${required > 1 ? "s" : ""} required, but only ${given} present.`);
    }
  }

  function parseWithBase(input, base) {
    input = toUSVString(input);
    let baseRecord = null;
    if (base !== undefined) {
      baseRecord = basicParse(toUSVString(base), null);
      if (baseRecord === null) return null;
    }
    return basicParse(input, baseRecord);
  }

  // For error messages: data: URLs can be megabytes long.
  function quoted(text) {
    return JSON.stringify(text.length > 200 ? text.slice(0, 200) + "..." : text);
  }

  // Web IDL attributes and operations are enumerable; class members are not by default.
  function makeMembersEnumerable(target) {
    for (const key of Object.getOwnPropertyNames(target)) {
      if (key === "constructor" || key === "prototype" || key === "length" || key === "name") continue;
      Object.defineProperty(target, key, { enumerable: true });
    }
  }

  // ---- URLSearchParams -------------------------------------------------------------------------

  // Set by URLSearchParams's static block: the only ways to reach its private state.
  let newLinkedSearchParams, replaceSearchParamsList, searchParamsList;

  class URLSearchParams {
    #list = [];
    #url = null; // the owning URL's record, whose query mirrors #list

    constructor(init = "") {
      if ((typeof init === "object" && init !== null) || typeof init === "function") {
        const iteratorMethod = init[Symbol.iterator];
        if (iteratorMethod !== undefined && iteratorMethod !== null) {
          if (typeof iteratorMethod !== "function") throw new TypeError("URLSearchParams: init[Symbol.iterator] is not a function");
          for (const pair of { [Symbol.iterator]: () => iteratorMethod.call(init) }) {
            if ((typeof pair !== "object" || pair === null) && typeof pair !== "function") {
              throw new TypeError("URLSearchParams: each name-value pair must be an iterable object");
            }
            const items = [...pair];
            if (items.length !== 2) throw new TypeError("URLSearchParams: each name-value pair must have exactly two items");
            this.#list.push([toUSVString(items[0]), toUSVString(items[1])]);
          }
        } else {
          for (const key of Reflect.ownKeys(init)) {
            const descriptor = Reflect.getOwnPropertyDescriptor(init, key);
            if (descriptor === undefined || !descriptor.enumerable) continue;
            this.#list.push([toUSVString(key), toUSVString(init[key])]);
          }
        }
      } else {
        const text = toUSVString(init);
        this.#list = parseFormUrlencoded(text.startsWith("?") ? text.slice(1) : text);
      }
    }

    static {
      newLinkedSearchParams = (record) => {
        const params = new URLSearchParams();
        params.#url = record;
        params.#list = record.query === null ? [] : parseFormUrlencoded(record.query);
        return params;
      };
      replaceSearchParamsList = (params, query) => {
        params.#list = query === null ? [] : parseFormUrlencoded(query);
      };
      searchParamsList = (params) => (typeof params === "object" && params !== null && #list in params ? params.#list : null);
    }

    // The update steps: the owning URL's query follows the list.
    #update() {
      if (this.#url === null) return;
      const serialized = serializeFormUrlencoded(this.#list);
      this.#url.query = serialized === "" ? null : serialized;
    }

    get size() {
      return this.#list.length;
    }

    append(name, value) {
      requireArguments(arguments.length, 2, "URLSearchParams.append");
      this.#list.push([toUSVString(name), toUSVString(value)]);
      this.#update();
    }

    delete(name, value = undefined) {
      requireArguments(arguments.length, 1, "URLSearchParams.delete");
      name = toUSVString(name);
      if (value === undefined) {
        this.#list = this.#list.filter((pair) => pair[0] !== name);
      } else {
        value = toUSVString(value);
        this.#list = this.#list.filter((pair) => pair[0] !== name || pair[1] !== value);
      }
      this.#update();
    }

    get(name) {
      requireArguments(arguments.length, 1, "URLSearchParams.get");
      name = toUSVString(name);
      const pair = this.#list.find((p) => p[0] === name);
      return pair === undefined ? null : pair[1];
    }

    getAll(name) {
      requireArguments(arguments.length, 1, "URLSearchParams.getAll");
      name = toUSVString(name);
      return this.#list.filter((p) => p[0] === name).map((p) => p[1]);
    }

    has(name, value = undefined) {
      requireArguments(arguments.length, 1, "URLSearchParams.has");
      name = toUSVString(name);
      if (value === undefined) return this.#list.some((p) => p[0] === name);
      value = toUSVString(value);
      return this.#list.some((p) => p[0] === name && p[1] === value);
    }

    set(name, value) {
      requireArguments(arguments.length, 2, "URLSearchParams.set");
      name = toUSVString(name);
      value = toUSVString(value);
      // Replace the first pair with this name, drop the others.
      const index = this.#list.findIndex((p) => p[0] === name);
      if (index === -1) {
        this.#list.push([name, value]);
      } else {
        this.#list[index] = [name, value];
        this.#list = this.#list.filter((p, i) => i <= index || p[0] !== name);
      }
      this.#update();
    }

    sort() {
      // Array.prototype.sort is stable; < compares UTF-16 code units, as specified.
      this.#list.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
      this.#update();
    }

    forEach(callback, thisArg = undefined) {
      requireArguments(arguments.length, 1, "URLSearchParams.forEach");
      if (typeof callback !== "function") throw new TypeError("URLSearchParams.forEach: callback is not a function");
      // Live: the callback may change the list while we walk it.
      for (let i = 0; i < this.#list.length; i++) {
        const [name, value] = this.#list[i];
        callback.call(thisArg, value, name, this);
      }
    }

    keys() {
      return new SearchParamsIterator(this, "keys");
    }

    values() {
      return new SearchParamsIterator(this, "values");
    }

    entries() {
      return new SearchParamsIterator(this, "entries");
    }

    toString() {
      return serializeFormUrlencoded(this.#list);
    }
  }

  // Web IDL pair iterators walk the live list by index.
  class SearchParamsIterator {
    #params;
    #kind;
    #index = 0;

    constructor(params, kind) {
      this.#list(params); // brand check on the receiver of keys()/values()/entries()
      this.#params = params;
      this.#kind = kind;
    }

    #list(params) {
      const list = searchParamsList(params);
      if (list === null) throw new TypeError("Illegal invocation: not a URLSearchParams");
      return list;
    }

    next() {
      const list = this.#list(this.#params);
      if (this.#index >= list.length) return { value: undefined, done: true };
      const [name, value] = list[this.#index++];
      const result = this.#kind === "keys" ? name : this.#kind === "values" ? value : [name, value];
      return { value: result, done: false };
    }
  }

  Object.setPrototypeOf(SearchParamsIterator.prototype, Object.getPrototypeOf(Object.getPrototypeOf([][Symbol.iterator]())));
  delete SearchParamsIterator.prototype.constructor; // not constructible by scripts
  makeMembersEnumerable(SearchParamsIterator.prototype);
  Object.defineProperty(SearchParamsIterator.prototype, Symbol.toStringTag, { value: "URLSearchParams Iterator", configurable: true });

  makeMembersEnumerable(URLSearchParams.prototype);
  Object.defineProperty(URLSearchParams.prototype, Symbol.iterator, {
    value: URLSearchParams.prototype.entries, writable: true, configurable: true, enumerable: false,
  });
  setToStringTag(URLSearchParams, "URLSearchParams");

  // ---- URL -------------------------------------------------------------------------------------

  const FROM_RECORD = Symbol("URL from record"); // never leaves this scope

  class URL {
    #url; // the URL record; mutated in place so the linked URLSearchParams sees changes
    #query; // the URLSearchParams object

    constructor(url, base = undefined) {
      if (url === FROM_RECORD) {
        // Internal: wrap an already parsed record (base) without parsing again.
        this.#url = base;
        this.#query = newLinkedSearchParams(base);
        return;
      }
      requireArguments(arguments.length, 1, "URL constructor");
      url = toUSVString(url);
      let baseRecord = null;
      if (base !== undefined) {
        base = toUSVString(base);
        baseRecord = basicParse(base, null);
        if (baseRecord === null) throw new TypeError(`Invalid base URL: ${quoted(base)}`);
      }
      const record = basicParse(url, baseRecord);
      if (record === null) {
        throw new TypeError(base === undefined
          ? `Invalid URL: ${quoted(url)}`
          : `Invalid URL: ${quoted(url)} (with base ${quoted(base)})`);
      }
      this.#url = record;
      this.#query = newLinkedSearchParams(record);
    }

    static parse(url, base = undefined) {
      requireArguments(arguments.length, 1, "URL.parse");
      const record = parseWithBase(url, base);
      return record === null ? null : new URL(FROM_RECORD, record);
    }

    static canParse(url, base = undefined) {
      requireArguments(arguments.length, 1, "URL.canParse");
      return parseWithBase(url, base) !== null;
    }

    get href() {
      return serializeURL(this.#url);
    }

    set href(value) {
      value = toUSVString(value);
      const record = basicParse(value, null);
      if (record === null) throw new TypeError(`Invalid URL: ${quoted(value)}`);
      Object.assign(this.#url, record);
      replaceSearchParamsList(this.#query, record.query);
    }

    get origin() {
      return serializeOrigin(this.#url);
    }

    get protocol() {
      return this.#url.scheme + ":";
    }

    set protocol(value) {
      basicParse(toUSVString(value) + ":", null, this.#url, SCHEME_START);
    }

    get username() {
      return this.#url.username;
    }

    set username(value) {
      value = toUSVString(value);
      if (cannotHaveCredentialsOrPort(this.#url)) return;
      this.#url.username = percentEncodeString(value, USERINFO_SET);
    }

    get password() {
      return this.#url.password;
    }

    set password(value) {
      value = toUSVString(value);
      if (cannotHaveCredentialsOrPort(this.#url)) return;
      this.#url.password = percentEncodeString(value, USERINFO_SET);
    }

    get host() {
      const { host, port } = this.#url;
      if (host === null) return "";
      return port === null ? host : `${host}:${port}`;
    }

    set host(value) {
      value = toUSVString(value);
      if (hasOpaquePath(this.#url)) return;
      basicParse(value, null, this.#url, HOST);
    }

    get hostname() {
      return this.#url.host ?? "";
    }

    set hostname(value) {
      value = toUSVString(value);
      if (hasOpaquePath(this.#url)) return;
      basicParse(value, null, this.#url, HOSTNAME);
    }

    get port() {
      return this.#url.port === null ? "" : String(this.#url.port);
    }

    set port(value) {
      value = toUSVString(value);
      if (cannotHaveCredentialsOrPort(this.#url)) return;
      if (value === "") this.#url.port = null;
      else basicParse(value, null, this.#url, PORT);
    }

    get pathname() {
      return serializePath(this.#url);
    }

    set pathname(value) {
      value = toUSVString(value);
      if (hasOpaquePath(this.#url)) return;
      this.#url.path = [];
      basicParse(value, null, this.#url, PATH_START);
    }

    get search() {
      const query = this.#url.query;
      return query === null || query === "" ? "" : "?" + query;
    }

    set search(value) {
      value = toUSVString(value);
      const url = this.#url;
      if (value === "") {
        url.query = null;
        replaceSearchParamsList(this.#query, null);
        return;
      }
      const input = value.startsWith("?") ? value.slice(1) : value;
      url.query = "";
      basicParse(input, null, url, QUERY);
      replaceSearchParamsList(this.#query, input);
    }

    get searchParams() {
      return this.#query;
    }

    get hash() {
      const fragment = this.#url.fragment;
      return fragment === null || fragment === "" ? "" : "#" + fragment;
    }

    set hash(value) {
      value = toUSVString(value);
      const url = this.#url;
      if (value === "") {
        url.fragment = null;
        return;
      }
      url.fragment = "";
      basicParse(value.startsWith("#") ? value.slice(1) : value, null, url, FRAGMENT);
    }

    toString() {
      return serializeURL(this.#url);
    }

    toJSON() {
      return serializeURL(this.#url);
    }

  }

  makeMembersEnumerable(URL.prototype);
  makeMembersEnumerable(URL);
  setToStringTag(URL, "URL");

  exposeGlobal("URL", URL);
  exposeGlobal("URLSearchParams", URLSearchParams);

  // ---- Exports for other runtime files ---------------------------------------------------------

  const URL_GETTERS = ["href", "origin", "protocol", "username", "password", "host", "hostname", "port", "pathname", "search", "hash"];
  const getterFunctions = URL_GETTERS.map((name) => [name, Reflect.getOwnPropertyDescriptor(URL.prototype, name).get]);

  return {
    // input and base are strings (base optional); null when input is not a valid URL.
    parseURL(input, base = undefined) {
      const record = parseWithBase(input, base);
      if (record === null) return null;
      const url = new URL(FROM_RECORD, record);
      const parts = {};
      for (const [name, getter] of getterFunctions) parts[name] = getter.call(url);
      return Object.freeze(parts);
    },
    urlSearchParamsBody(value) {
      const list = searchParamsList(value);
      return list === null ? null : serializeFormUrlencoded(list);
    },
  };
})();
