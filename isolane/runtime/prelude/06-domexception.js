// DOMException (Web IDL), which V8 alone does not provide. Instances are genuine error
// objects (Error.isError is true, they carry a stack), their prototype inherits from
// Error.prototype, and name / message / code are getters on DOMException.prototype.
// Later files throw them with `new DOMException(message, "InvalidCharacterError")` and
// recognise them with `isDOMException(value)`.

// Error names that had a numeric code before names existed (Web IDL "error names" table).
const DOM_EXCEPTION_LEGACY_CODES = new Map([
  ["IndexSizeError", 1], ["HierarchyRequestError", 3], ["WrongDocumentError", 4],
  ["InvalidCharacterError", 5], ["NoModificationAllowedError", 7], ["NotFoundError", 8],
  ["NotSupportedError", 9], ["InUseAttributeError", 10], ["InvalidStateError", 11],
  ["SyntaxError", 12], ["InvalidModificationError", 13], ["NamespaceError", 14],
  ["InvalidAccessError", 15], ["TypeMismatchError", 17], ["SecurityError", 18],
  ["NetworkError", 19], ["AbortError", 20], ["URLMismatchError", 21],
  ["QuotaExceededError", 22], ["TimeoutError", 23], ["InvalidNodeTypeError", 24],
  ["DataCloneError", 25],
]);

const DOM_EXCEPTION_CONSTANTS = [
  ["INDEX_SIZE_ERR", 1], ["DOMSTRING_SIZE_ERR", 2], ["HIERARCHY_REQUEST_ERR", 3],
  ["WRONG_DOCUMENT_ERR", 4], ["INVALID_CHARACTER_ERR", 5], ["NO_DATA_ALLOWED_ERR", 6],
  ["NO_MODIFICATION_ALLOWED_ERR", 7], ["NOT_FOUND_ERR", 8], ["NOT_SUPPORTED_ERR", 9],
  ["INUSE_ATTRIBUTE_ERR", 10], ["INVALID_STATE_ERR", 11], ["SYNTAX_ERR", 12],
  ["INVALID_MODIFICATION_ERR", 13], ["NAMESPACE_ERR", 14], ["INVALID_ACCESS_ERR", 15],
  ["VALIDATION_ERR", 16], ["TYPE_MISMATCH_ERR", 17], ["SECURITY_ERR", 18], ["NETWORK_ERR", 19],
  ["ABORT_ERR", 20], ["URL_MISMATCH_ERR", 21], ["QUOTA_EXCEEDED_ERR", 22], ["TIMEOUT_ERR", 23],
  ["INVALID_NODE_TYPE_ERR", 24], ["DATA_CLONE_ERR", 25],
];

// name and message of each DOMException. A WeakMap rather than private fields: the
// instance is made by the Error constructor, not by this class.
const domExceptionData = new WeakMap();

function isDOMException(value) {
  return domExceptionData.has(value);
}

function domExceptionDataOf(value) {
  const data = domExceptionData.get(value);
  if (data === undefined) throw new TypeError("Illegal invocation");
  return data;
}

class DOMException {
  constructor(message = "", name = "Error") {
    message = `${message}`;
    name = `${name}`;
    // Built by Error so that it is a real error object; prototype from new.target, so that
    // subclasses work. V8 keeps the original message for the stack's first line.
    const self = Reflect.construct(Error, [message], new.target);
    delete self.message; // Web IDL: message is the prototype's getter, not an own property
    domExceptionData.set(self, { name, message });
    Error.captureStackTrace(self, new.target); // the stack starts where it was thrown
    return self;
  }

  get name() {
    return domExceptionDataOf(this).name;
  }

  get message() {
    return domExceptionDataOf(this).message;
  }

  get code() {
    return DOM_EXCEPTION_LEGACY_CODES.get(domExceptionDataOf(this).name) ?? 0;
  }
}

Object.setPrototypeOf(DOMException.prototype, Error.prototype);
for (const [constant, value] of DOM_EXCEPTION_CONSTANTS) {
  const descriptor = { value, writable: false, enumerable: true, configurable: false };
  Object.defineProperty(DOMException, constant, descriptor);
  Object.defineProperty(DOMException.prototype, constant, descriptor);
}
setToStringTag(DOMException, "DOMException");
exposeGlobal("DOMException", DOMException);
