'use strict';
// An example cairn client for Node.js, built from docs/PROTOCOL.md and the
// .proto files alone: one DEALER socket, one frame per request holding a
// cairn.Request, answers matched by id (any order, many in flight), a
// timeout on every wait, BUSY retried with backoff, CURVE keys, streams for
// large content and iterators over pages.

const crypto = require('crypto');
const Long = require('protobufjs').util.Long;
const zmq = require('zeromq');
const schemasLib = require('./schemas');
const keys = require('./keys');

const DEFAULT_ENDPOINT = 'tcp://127.0.0.1:7401';
const DEFAULT_MAX_FRAME = 64 * 1024 * 1024;  // the node's max_frame_bytes default
const CHUNK_MAX = 16 * 1024 * 1024;          // ContentChunk / ContentRead maximum
const DEFAULT_CHUNK = 4 * 1024 * 1024;
const BACKOFF_FIRST_MS = 10;
const BACKOFF_MAX_MS = 1000;
// Kinds that change nothing: a BUSY "(it was carried out)" may be repeated.
const READ_KIND = /^(ping|info)$|_(get|list|has|size|read|search|stats|retrieve|exists|history)$/;
const TO_OBJECT = {defaults: true, arrays: true};  // 64-bit fields stay Long: see exact()

// 64-bit integers of an answer as Number when exact (up to 2^53), else
// BigInt: stream ids, for one, use all 64 bits, and a Number would round
// them to another stream's id.
function exact(value) {
    if (value instanceof Long) {
        const big = BigInt(value.toString());
        return big <= BigInt(Number.MAX_SAFE_INTEGER) && big >= -BigInt(Number.MAX_SAFE_INTEGER)
                   ? Number(big) : big;
    }
    if (Array.isArray(value)) return value.map(exact);
    if (value && typeof value === 'object' && !(value instanceof Uint8Array)) {
        for (const key of Object.keys(value)) value[key] = exact(value[key]);
    }
    return value;
}

// BigInts of a request body as Long, which protobufjs encodes.
function toLong(value) {
    if (typeof value === 'bigint') return Long.fromString(value.toString(), value >= 0n);
    if (Array.isArray(value)) return value.map(toLong);
    if (value && typeof value === 'object' && !(value instanceof Uint8Array) &&
        !(value instanceof Long)) {
        return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toLong(v)]));
    }
    return value;
}

class CairnError extends Error {
    constructor(status, statusName, message, id, kind) {
        super(`${kind}: ${statusName}: ${message}`);
        this.name = 'CairnError';
        this.status = status;
        this.statusName = statusName;
        this.error = message;  // the node's sentence, as sent
        this.id = id;
        this.kind = kind;
    }
}

class CairnTimeout extends Error {
    constructor(kind, id, ms) {
        super(`${kind}: no answer within ${ms} ms (is the node running at this endpoint? ` +
              'with CURVE: is this client on its allow-list, is the server key right?)');
        this.name = 'CairnTimeout';
        this.kind = kind;
        this.id = id;
    }
}

function checkInt(what, value, min, max) {
    if (!Number.isInteger(value)) throw new TypeError(`${what} must be an integer, not ${value}`);
    if (value < min || value > max) throw new RangeError(`${what} must be ${min}..${max}, not ${value}`);
    return value;
}

// A content hash: 32 bytes, or 64 hex digits.
function contentHash(hash) {
    if (typeof hash === 'string') {
        if (!/^[0-9a-fA-F]{64}$/.test(hash)) throw new RangeError('a content hash is 64 hex digits');
        return Buffer.from(hash, 'hex');
    }
    if (hash instanceof Uint8Array && hash.length === 32) return Buffer.from(hash);
    throw new RangeError('a content hash is 32 bytes (SHA-256) or 64 hex digits');
}

function asBytes(what, value) {
    if (typeof value === 'string') return Buffer.from(value, 'utf8');
    if (value instanceof Uint8Array) return value;
    throw new TypeError(`${what} must be a Buffer, Uint8Array or string`);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

class Connection {
    // options: timeout (ms, default 5000), serverKey (the node's public
    // key), clientKey ({publicKey, secretKey} or a key file's path),
    // busyRetries (default 3), maxFrameBytes, schemas (a schemas/ folder).
    constructor(endpoint = DEFAULT_ENDPOINT, options = {}) {
        const {timeout = 5000, serverKey = null, clientKey = null, busyRetries = 3,
               maxFrameBytes = DEFAULT_MAX_FRAME, schemas} = options;
        this.timeout = checkInt('timeout', timeout, 1, 86400000);
        this.busyRetries = checkInt('busyRetries', busyRetries, 0, 1000);
        this.maxFrameBytes = checkInt('maxFrameBytes', maxFrameBytes, 1, 2 ** 31);
        if (!serverKey !== !clientKey) {
            throw new TypeError('CURVE needs both serverKey and clientKey (or neither)');
        }
        this.pb = schemasLib.load(schemas);
        const socketOptions = {linger: 0, receiveHighWaterMark: 0, sendHighWaterMark: 0};
        if (serverKey) {
            const pair = typeof clientKey === 'string' ? keys.load(clientKey) : clientKey;
            socketOptions.curveServerKey = keys.curveKey('serverKey', serverKey);
            socketOptions.curvePublicKey = keys.curveKey('clientKey.publicKey', pair.publicKey);
            socketOptions.curveSecretKey = keys.curveKey('clientKey.secretKey', pair.secretKey);
        }
        this.socket = new zmq.Dealer(socketOptions);
        this.socket.connect(endpoint);
        this.endpoint = endpoint;
        this.nextId = 1;          // 0 is the node's id for an unreadable frame
        this.pending = new Map(); // String(id) -> {kind, resolve, reject, timer, frame}
        this.outbox = [];         // frames not yet handed to the socket
        this.sending = false;
        this.closed = false;
        this.droppedAnswers = 0;  // answers to nothing we wait for (timed out)
        this.busyRetried = 0;
        this._receiving = this._receive();
    }

    get inFlight() {
        return this.pending.size;
    }

    // Sends one request now; returns {id, answer} where answer is a promise
    // of the cairn.Response (any status). Refuses a reused id in flight.
    send(kind, body = {}, {id = null, timeout = this.timeout} = {}) {
        if (this.closed) throw new Error('the connection is closed');
        const entry = this.pb.kinds.get(kind);
        if (!entry) throw new RangeError(`unknown request kind ${kind}`);
        checkInt('timeout', timeout, 1, 86400000);
        const request = this._message(entry, body);
        let key;
        if (id === null) {
            id = this.nextId++;
        } else if (typeof id === 'number' ? !Number.isSafeInteger(id) || id < 0
                                          : typeof id !== 'bigint' || id < 0n || id >= 2n ** 64n) {
            throw new RangeError('id is a uint64 (a safe integer or a BigInt)');
        }
        key = String(id);
        if (this.pending.has(key)) throw new Error(`request id ${key} is in flight: pick another`);
        const frame = this.pb.Request.encode(
            this.pb.Request.fromObject({id: key, [kind]: request})).finish();
        if (frame.length > this.maxFrameBytes) {
            throw new RangeError(`${kind}: ${frame.length} bytes is over max_frame_bytes ` +
                                 `(${this.maxFrameBytes}): the node would drop the connection`);
        }
        let resolve, reject;
        const answer = new Promise((res, rej) => { resolve = res; reject = rej; });
        const waiting = {kind, resolve, reject, frame};
        waiting.timer = setTimeout(() => {
            this.pending.delete(key);
            const queued = this.outbox.indexOf(frame);
            if (queued >= 0) this.outbox.splice(queued, 1);
            reject(new CairnTimeout(kind, id, timeout));
        }, timeout);
        this.pending.set(key, waiting);
        this.outbox.push(frame);
        this._pump();
        return {id, answer};
    }

    // One request, its answer's body (a plain object) when OK; CairnError
    // otherwise. BUSY is retried `busyRetries` times with backoff (10 ms
    // doubling to 1 s, with jitter), except a BUSY saying the request was
    // carried out, which is repeated only for reads.
    async call(kind, body = {}, {timeout = this.timeout, busyRetries = this.busyRetries} = {}) {
        let delay = BACKOFF_FIRST_MS;
        for (let attempt = 0;; attempt++) {
            const {answer} = this.send(kind, body, {timeout});
            const response = await answer;
            try {
                return this.body(response, kind);
            } catch (err) {
                const busy = err instanceof CairnError && err.statusName === 'BUSY';
                const carriedOut = busy && err.error.includes('it was carried out');
                if (!busy || attempt >= busyRetries || (carriedOut && !READ_KIND.test(kind))) throw err;
                this.busyRetried++;
                await sleep(delay / 2 + Math.random() * delay / 2);
                delay = Math.min(delay * 2, BACKOFF_MAX_MS);
            }
        }
    }

    // The body of an answer as a plain object, or CairnError for a status.
    body(response, kind) {
        const id = response.id;
        if (response.status !== 0) {
            throw new CairnError(response.status, this.pb.statusName(response.status),
                                 response.error, id, kind);
        }
        const entry = this.pb.kinds.get(kind);
        const member = response[entry.responseName];
        return exact(entry.responseClass.toObject(member || entry.responseClass.create(), TO_OBJECT));
    }

    // Many requests ([kind, body] pairs) with at most `window` in flight;
    // the bodies in order. errors: 'throw' (the first error) or 'return'
    // (a CairnError in its place).
    async pipeline(requests, {window = 500, errors = 'throw', busyRetries = 0} = {}) {
        checkInt('window', window, 1, 100000);
        const results = new Array(requests.length);
        let next = 0;
        const worker = async () => {
            while (next < requests.length) {
                const at = next++;
                const [kind, body] = requests[at];
                try {
                    results[at] = await this.call(kind, body, {busyRetries});
                } catch (err) {
                    if (errors !== 'return' || !(err instanceof CairnError)) throw err;
                    results[at] = err;
                }
            }
        };
        const workers = [];
        for (let i = 0; i < Math.min(window, requests.length); i++) workers.push(worker());
        await Promise.all(workers);
        return results;
    }

    close() {
        if (this.closed) return;
        this.closed = true;
        for (const [key, waiting] of this.pending) {
            clearTimeout(waiting.timer);
            waiting.reject(new Error(`${waiting.kind}: the connection was closed`));
            this.pending.delete(key);
        }
        this.outbox.length = 0;
        this.socket.close();
    }

    // ---- helpers -----------------------------------------------------------------
    async ping(payload = Buffer.alloc(0)) {
        return this.call('ping', {payload: asBytes('payload', payload)});
    }

    async info() {
        return this.call('info');
    }

    // The value (Buffer) of a config key, or `fallback` when it is unset.
    async configGet(key, fallback = null) {
        const answer = await this.call('config_get', {key});
        return answer.found ? answer.value : fallback;
    }

    async configSet(key, value) {
        return (await this.call('config_set', {key, value: asBytes('value', value)})).created;
    }

    async channelCreate(name, {unsignedMessages = false, encrypted = false, password = ''} = {}) {
        return this.call('channel_create',
                         {name, unsigned_messages: unsignedMessages, encrypted, password});
    }

    // Every channel by name, a page at a time (cursor after_name).
    async *iterChannels({pageSize = 100} = {}) {
        checkInt('pageSize', pageSize, 1, 1000);
        let after = '';
        for (;;) {
            const page = await this.call('channel_list', {limit: pageSize, after_name: after});
            yield* page.channels;
            if (!page.more || page.channels.length === 0) return;
            after = page.channels[page.channels.length - 1].name;
        }
    }

    // Stores a message; its id (a new UUID unless given). `signature` is
    // the sender's Ed25519 signature (messages.proto, "Signature"); an
    // unsigned channel takes any 64 bytes.
    async messageStore(channel, content, {senderId, signature, id = crypto.randomUUID(),
                                          senderName = '', timestamp = Date.now() / 1000} = {}) {
        if (!(signature instanceof Uint8Array) || signature.length !== 64) {
            throw new RangeError('signature is 64 bytes (Ed25519)');
        }
        const message = {id, timestamp, sender_id: senderId, sender_name: senderName, channel,
                         content: asBytes('content', content), signature};
        return (await this.call('message_store', {message})).id;
    }

    // One page of a channel, newest first; `before` is the keyset cursor
    // [timestamp, id] of the previous page's last message.
    async messageList(channel, {limit = 0, before = null, since = 0} = {}) {
        checkInt('limit', limit, 0, 1000);
        const fields = {channel, limit, since};
        if (before) [fields.before_timestamp, fields.before_id] = before;
        return this.call('message_list', fields);
    }

    // Every message of a channel, newest first, page by page with the
    // keyset cursor; stops on `more` false, never on a short page.
    async *iterMessages(channel, {pageSize = 100, since = 0} = {}) {
        checkInt('pageSize', pageSize, 1, 1000);
        let before = null;
        for (;;) {
            const page = await this.messageList(channel, {limit: pageSize, before, since});
            yield* page.messages;
            if (!page.more || page.messages.length === 0) return;
            const last = page.messages[page.messages.length - 1];
            before = [last.timestamp, last.id];
        }
    }

    // Stores a blob: one ContentPut up to `chunkSize`, else a stream. The
    // ContentStored {hash, size, deduplicated}.
    async contentPut(data, {expectedHash = null, chunkSize = DEFAULT_CHUNK} = {}) {
        data = asBytes('data', data);
        checkInt('chunkSize', chunkSize, 1, CHUNK_MAX);
        const expected = expectedHash ? contentHash(expectedHash) : Buffer.alloc(0);
        if (data.length <= chunkSize) return this.call('content_put', {data, expected_hash: expected});
        const pieces = function*() {
            for (let at = 0; at < data.length; at += chunkSize) yield data.subarray(at, at + chunkSize);
        };
        return this.contentPutStream(pieces(), {expectedHash: expected});
    }

    // Streams a blob from an (async) iterable of Buffers, e.g. a
    // fs.createReadStream: ContentBegin, ContentChunk one at a time,
    // ContentCommit; ContentAbort on any failure.
    async contentPutStream(source, {expectedHash = null} = {}) {
        const expected = expectedHash && expectedHash.length ? contentHash(expectedHash) : Buffer.alloc(0);
        const begun = await this.call('content_begin', {expected_hash: expected});
        if (begun.exists) return {hash: expected, size: null, deduplicated: true};
        const stream = begun.stream_id;
        let offset = 0;
        try {
            for await (let piece of source) {
                piece = asBytes('a chunk', piece);
                for (let at = 0; at < piece.length; at += CHUNK_MAX) {
                    const data = piece.subarray(at, at + CHUNK_MAX);
                    await this.call('content_chunk', {stream_id: stream, offset, data});
                    offset += data.length;
                }
            }
            return await this.call('content_commit', {stream_id: stream, expected_hash: expected});
        } catch (err) {
            // A failed abort is fine: the node drops the stream after stream_timeout_ms.
            await this.call('content_abort', {stream_id: stream}, {timeout: 1000}).catch(() => {});
            throw err;
        }
    }

    // The bytes of a blob, a ContentRead range at a time, in order. With
    // `verify` the node checks the whole blob's hash: the last range must
    // say `verified`, or the blob is CORRUPT (discard what was read).
    async *contentIter(hash, {chunkSize = DEFAULT_CHUNK, verify = true} = {}) {
        hash = contentHash(hash);
        checkInt('chunkSize', chunkSize, 1, CHUNK_MAX);
        let offset = 0;
        for (;;) {
            const part = await this.call('content_read',
                                         {hash, offset, length: chunkSize, skip_verify: !verify});
            if (part.data.length) yield part.data;
            offset += part.data.length;
            if (part.end) {
                if (verify && !part.verified) {
                    throw new CairnError(8, 'CORRUPT', 'the node did not verify the blob', null,
                                         'content_read');
                }
                return;
            }
            if (!part.data.length) {
                throw new CairnError(6, 'INTERNAL', 'an empty range before the end', null,
                                     'content_read');
            }
        }
    }

    async contentGet(hash, options = {}) {
        const parts = [];
        for await (const part of this.contentIter(hash, options)) parts.push(part);
        return Buffer.concat(parts);
    }

    async contentHas(hash) {
        return (await this.call('content_has', {hash: contentHash(hash)})).exists;
    }

    async contentDelete(hash) {
        return (await this.call('content_delete', {hash: contentHash(hash)})).removed;
    }

    async kvNamespaceCreate(namespace, {backend = 0} = {}) {
        return this.call('kv_namespace_create', {namespace, backend});
    }

    async kvStore(namespace, key, value) {
        return (await this.call('kv_store', {namespace, key, value: asBytes('value', value)})).created;
    }

    // The value (Buffer), or null when the key holds none (NOT_FOUND).
    async kvRetrieve(namespace, key) {
        try {
            return (await this.call('kv_retrieve', {namespace, key})).value;
        } catch (err) {
            if (err instanceof CairnError && err.statusName === 'NOT_FOUND') return null;
            throw err;
        }
    }

    // ---- inside ------------------------------------------------------------------
    // A request body from a plain object (or a message of the right type),
    // checked before anything is sent.
    _message(entry, body) {
        const type = entry.requestClass;
        if (body instanceof type.ctor) return body;
        if (body === null || typeof body !== 'object' || Array.isArray(body)) {
            throw new TypeError(`the body of ${entry.name} is an object of cairn.${entry.requestType}`);
        }
        for (const field of Object.keys(body)) {
            if (!type.fields[field]) {
                throw new TypeError(`${field} is not one of the fields of cairn.${entry.requestType}: ` +
                                    Object.keys(type.fields).join(', '));
            }
        }
        body = toLong(body);
        const problem = type.verify(body);
        if (problem) throw new TypeError(`cairn.${entry.requestType}: ${problem}`);
        return type.fromObject(body);
    }

    // Hands queued frames to the socket one at a time (zeromq allows one
    // send in progress); answers are read meanwhile by _receive.
    async _pump() {
        if (this.sending) return;
        this.sending = true;
        try {
            while (this.outbox.length && !this.closed) {
                await this.socket.send(this.outbox.shift());
            }
        } catch (err) {
            if (!this.closed) this._fail(err);
        } finally {
            this.sending = false;
        }
    }

    async _receive() {
        try {
            for await (const frames of this.socket) {
                let response;
                try {
                    response = this.pb.Response.decode(frames[0]);
                } catch (err) {
                    this.droppedAnswers++;  // not a cairn answer
                    continue;
                }
                const waiting = this.pending.get(String(response.id));
                if (!waiting) {
                    this.droppedAnswers++;  // timed out, or not ours
                    continue;
                }
                this.pending.delete(String(response.id));
                clearTimeout(waiting.timer);
                waiting.resolve(response);
            }
        } catch (err) {
            if (!this.closed) this._fail(err);
        }
    }

    _fail(err) {
        for (const [key, waiting] of this.pending) {
            clearTimeout(waiting.timer);
            waiting.reject(err);
            this.pending.delete(key);
        }
    }
}

module.exports = {Connection, CairnError, CairnTimeout, contentHash, keys, schemas: schemasLib,
                  DEFAULT_ENDPOINT};
