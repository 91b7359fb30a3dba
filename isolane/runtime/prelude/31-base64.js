// atob / btoa (HTML standard, "forgiving-base64"). The validation follows the HTML
// algorithm step by step; the conversion itself is V8's Uint8Array.fromBase64/toBase64.

// Everything below is private to this file (a block scope): only the global it publishes
// is shared, so its helpers cannot clash with another file's.
{
  const fromBase64 = Uint8Array.fromBase64;
  const toBase64 = Uint8Array.prototype.toBase64;
  const ASCII_WHITESPACE = /[\t\n\f\r ]+/g;
  const BASE64_BODY = /^[A-Za-z0-9+/]*$/;
  const NON_LATIN1 = /[^\u0000-\u00ff]/;

  function requireArgument(count, method) {
    if (count < 1) {
      throw new TypeError(`Failed to execute '${method}': 1 argument required, but only 0 present.`);
    }
  }

  function atob(data) {
    requireArgument(arguments.length, "atob");
    data = `${data}`.replace(ASCII_WHITESPACE, "");
    if (data.length % 4 === 0) {
      if (data.endsWith("==")) data = data.slice(0, -2);
      else if (data.endsWith("=")) data = data.slice(0, -1);
    }
    if (data.length % 4 === 1 || !BASE64_BODY.test(data)) {
      throw new DOMException("The string to be decoded is not correctly encoded.", "InvalidCharacterError");
    }
    // Unpadded, so fromBase64's default ("loose") handling of the last chunk applies, which
    // like forgiving-base64 ignores the leftover bits of a partial final group.
    return bytesToLatin1(fromBase64(data));
  }

  function btoa(data) {
    requireArgument(arguments.length, "btoa");
    data = `${data}`;
    if (NON_LATIN1.test(data)) {
      throw new DOMException("The string to be encoded contains characters outside of the Latin1 range.", "InvalidCharacterError");
    }
    return Reflect.apply(toBase64, latin1ToBytes(data), []);
  }

  exposeGlobal("atob", atob);
  exposeGlobal("btoa", btoa);
}
