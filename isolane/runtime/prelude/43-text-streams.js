// TextEncoderStream and TextDecoderStream (WHATWG Encoding §7.2, §7.4): transform streams
// of strings to UTF-8 bytes and back, each with the `readable` and `writable` of a
// TransformStream (the GenericTransformStream mixin). A character whose UTF-16 surrogate
// pair or UTF-8 sequence is split across chunks comes out whole.

// Captured now, so that a script patching TextDecoder.prototype cannot reach the streams.
const textDecoderDecode = TextDecoder.prototype.decode;
const STREAM_DECODE_OPTIONS = Object.freeze({ stream: true });

// A transform stream whose transform and flush are runtime functions: transform(chunk)
// and flush() return the chunk to enqueue, or null for none.
function createTextTransformStream(object, transform, flush) {
  const enqueueResult = (controller, produce) => {
    try {
      const output = produce();
      if (output !== null) transformControllerEnqueue(controller, output);
      return Promise.resolve(undefined);
    } catch (err) {
      return Promise.reject(err);
    }
  };
  return createTransformStream(
    object,
    Promise.resolve(undefined),
    (chunk, controller) => enqueueResult(controller, () => transform(chunk)),
    (controller) => enqueueResult(controller, flush),
    () => Promise.resolve(undefined),
    1, () => 1, 0, () => 1,
  );
}

// A chunk whose bytes were transferred away: an error rather than no bytes, as the Web
// Platform Tests expect of TextDecoderStream.
function isDetachedBufferSource(source) {
  if (!ArrayBuffer.isView(source)) return isDetachedBuffer(source);
  const isTypedArray = applyFunction(typedArrayTag, source, []) !== undefined;
  return isDetachedBuffer(applyFunction(isTypedArray ? typedArrayBuffer : dataViewBuffer, source, []));
}

class TextEncoderStream {
  #stream;

  constructor() {
    // A leading surrogate that ended the previous chunk waits for its trailing half.
    let pendingHighSurrogate = "";
    const encodeChunk = (chunk) => {
      let text = pendingHighSurrogate + toDOMString(chunk);
      pendingHighSurrogate = "";
      const last = text.charCodeAt(text.length - 1);
      if (last >= 0xd800 && last <= 0xdbff) {
        pendingHighSurrogate = text[text.length - 1];
        text = text.slice(0, -1);
      }
      // utf8Encode turns any other lone surrogate into U+FFFD, as the encoder does.
      return text === "" ? null : utf8Encode(text);
    };
    // A leading surrogate left at the end has no partner: U+FFFD.
    const flush = () => (pendingHighSurrogate === "" ? null : utf8Encode("\uFFFD"));
    this.#stream = createTextTransformStream(this, encodeChunk, flush);
  }

  get encoding() {
    this.#stream; // brand check
    return "utf-8";
  }

  get readable() {
    return this.#stream.readable.object;
  }

  get writable() {
    return this.#stream.writable.object;
  }
}

class TextDecoderStream {
  #stream;
  #fatal;
  #ignoreBOM;

  constructor(label = "utf-8", options = undefined) {
    label = toDOMString(label);
    const dict = optionsDictionary(options, "The provided TextDecoderOptions");
    const fatal = Boolean(dict.fatal);
    const ignoreBOM = Boolean(dict.ignoreBOM);
    const decoder = new TextDecoder(label, { fatal, ignoreBOM }); // RangeError for other labels
    this.#fatal = fatal;
    this.#ignoreBOM = ignoreBOM;
    const decodeChunk = (chunk) => {
      bufferSourceBytes(chunk, "The chunk"); // TypeError unless bytes (undefined included)
      if (isDetachedBufferSource(chunk)) throw new TypeError("The chunk's buffer is detached.");
      const text = applyFunction(textDecoderDecode, decoder, [chunk, STREAM_DECODE_OPTIONS]);
      return text === "" ? null : text;
    };
    const flush = () => {
      const text = applyFunction(textDecoderDecode, decoder, []);
      return text === "" ? null : text;
    };
    this.#stream = createTextTransformStream(this, decodeChunk, flush);
  }

  get encoding() {
    this.#stream; // brand check
    return "utf-8"; // the only encoding the runtime has
  }

  get fatal() {
    return this.#fatal;
  }

  get ignoreBOM() {
    return this.#ignoreBOM;
  }

  get readable() {
    return this.#stream.readable.object;
  }

  get writable() {
    return this.#stream.writable.object;
  }
}

for (const [cls, tag] of [[TextEncoderStream, "TextEncoderStream"], [TextDecoderStream, "TextDecoderStream"]]) {
  finishInterface(cls, tag);
  exposeGlobal(tag, cls);
}
