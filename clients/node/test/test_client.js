#!/usr/bin/env node
'use strict';
// Tests of the Node client against a real cairnd (test/cairn_node.js).
// `test_client.js --list` prints one "ctest-name test-name" line per test,
// which ctest registers (clients/node/CMakeLists.txt); `test_client.js
// NAME` runs one, no argument all. Each test starts its own node.

const assert = require('assert/strict');
const crypto = require('crypto');
const fs = require('fs');
const os = require('os');
const path = require('path');
const {execFileSync} = require('child_process');

const NAMES = ['ping_info', 'pipelining', 'error_status', 'timeout', 'paging', 'content_stream',
               'kv', 'busy', 'curve', 'example'];

if (process.argv[2] === '--list') {
    for (const name of NAMES) console.log(`node.client.${name} ${name}`);
    process.exit(0);
}
for (const module of ['zeromq', 'protobufjs']) {
    try {
        require.resolve(module);
    } catch (err) {
        console.error(`the npm package ${module} is missing in clients/node: run deploy/install-deps ` +
                      '(or `npm ci` in clients/node)');
        process.exit(1);
    }
}

const {Connection, CairnError, CairnTimeout, keys} = require('..');
const {Node, runCairnd, wireApiVersion} = require('./cairn_node');

const SIGNATURE = Buffer.alloc(64, 1);  // an unsigned channel takes any 64 bytes
const CAIRN_CLI = process.env.CAIRN_CLI || path.join(__dirname, '..', '..', '..', 'build', 'cairn');

// A node and a connection for `body`, both stopped after it.
async function withNode(args, options, body) {
    const node = await Node.start(args, options);
    const conn = node.connect();
    try {
        await body(node, conn);
    } finally {
        conn.close();
        await node.stop();
    }
}

const tests = {
    async ping_info() {
        await withNode([], {}, async (node, conn) => {
            const pong = await conn.ping('hello');
            assert.equal(pong.payload.toString(), 'hello');
            assert.ok(pong.node_time_us > 0);
            const info = await conn.info();
            assert.equal(info.api_version, wireApiVersion());
            assert.ok(info.api_version >= 1);
            assert.equal(info.pid, node.child.pid);
        });
    },

    async pipelining() {
        await withNode([], {}, async (node, conn) => {
            // 1000 requests in flight at once (client_in_flight_max),
            // awaited in reverse order: each answer is matched by its id.
            const sent = [];
            for (let i = 0; i < 1000; i++) {
                if (i % 3 === 0) {
                    sent.push(conn.send('config_set', {key: `pipe.${i}`, value: Buffer.from(`${i}`)}));
                } else if (i % 3 === 1) {
                    sent.push(conn.send('config_get', {key: `pipe.${i - 1}`}));
                } else {
                    sent.push(conn.send('ping', {payload: Buffer.from(`${i}`)}));
                }
            }
            assert.equal(conn.inFlight, 1000);
            for (let i = 999; i >= 0; i--) {
                const response = await sent[i].answer;
                assert.equal(String(response.id), String(sent[i].id));
                if (i % 3 === 2) assert.equal(conn.body(response, 'ping').payload.toString(), `${i}`);
            }
            assert.equal(conn.inFlight, 0);
            assert.equal(conn.droppedAnswers, 0);
            // Through a window, results in order.
            const values = await conn.pipeline(
                Array.from({length: 334}, (_, k) => ['config_get', {key: `pipe.${3 * k}`}]));
            assert.deepEqual(values.map((v) => v.value.toString()),
                             Array.from({length: 334}, (_, k) => `${3 * k}`));
            // Any uint64 is an id, 0 and 2^64-1 included; one in flight is not reused.
            for (const id of [0, 2n ** 64n - 1n]) {
                const {answer} = conn.send('ping', {}, {id});
                assert.throws(() => conn.send('ping', {}, {id}), /in flight/);
                assert.equal(String((await answer).id), String(id));
            }
        });
    },

    async error_status() {
        await withNode([], {}, async (node, conn) => {
            await assert.rejects(conn.configSet('../bad', 'v'), (err) => {
                assert.ok(err instanceof CairnError);
                assert.equal(err.statusName, 'INVALID');
                assert.equal(err.status, 2);
                assert.match(err.error, /key/);
                return true;
            });
            await assert.rejects(conn.contentGet('00'.repeat(32)), (err) => {
                assert.equal(err.statusName, 'NOT_FOUND');
                return true;
            });
            await assert.rejects(conn.call('message_list', {channel: '#none', limit: 1, offset: 1,
                                                             before_timestamp: 5}),
                                 (err) => err.statusName === 'INVALID');
            // Refused before anything is sent.
            assert.throws(() => conn.send('no_such_kind'), /unknown request kind/);
            assert.throws(() => conn.send('config_get', {nope: 1}), /not one of the fields/);
            assert.throws(() => conn.send('config_get', {key: 5}), /cairn.ConfigGet/);
            assert.throws(() => conn.send('ping', {}, {id: -1}), /uint64/);
            assert.throws(() => conn.send('ping', {}, {id: 2n ** 64n}), /uint64/);
            await assert.rejects(conn.contentHas('zz'), /64 hex/);
            await assert.rejects(conn.messageList('#c', {limit: 5000}), /limit/);
            assert.throws(() => new Connection(node.endpoint, {serverKey: 'x'.repeat(40)}), /both/);
            assert.throws(() => keys.curveKey('k', 'short'), /40 Z85/);
            const small = new Connection(node.endpoint, {maxFrameBytes: 100});
            assert.throws(() => small.send('ping', {payload: Buffer.alloc(200)}), /max_frame_bytes/);
            small.close();
            assert.equal(conn.inFlight, 0);
            assert.equal((await conn.ping('ok')).payload.toString(), 'ok');  // goes on
        });
    },

    async timeout() {
        const node = await Node.start();
        const silent = node.connect({timeout: 300});
        try {
            await silent.ping();
            await node.stop();
            await assert.rejects(silent.ping(), (err) => {
                assert.ok(err instanceof CairnTimeout);
                assert.equal(err.kind, 'ping');
                return true;
            });
            assert.equal(silent.inFlight, 0);
        } finally {
            silent.close();
            await node.stop();
        }
        assert.throws(() => silent.send('ping'), /closed/);
    },

    async paging() {
        await withNode([], {}, async (node, conn) => {
            await conn.channelCreate('#node-paging', {unsignedMessages: true});
            const id = (i) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;
            await conn.pipeline(Array.from({length: 250}, (_, i) => ['message_store', {message: {
                id: id(i), timestamp: 1000 + i, channel: '#node-paging', sender_id: 's',
                content: Buffer.from(`m${i}`), signature: SIGNATURE}}]));
            const newest = await conn.messageStore('#node-paging', 'last',
                                                   {senderId: 's', signature: SIGNATURE, timestamp: 5000});
            const seen = [];
            for await (const message of conn.iterMessages('#node-paging', {pageSize: 40})) {
                seen.push(message.id);
            }
            assert.equal(seen.length, 251);
            assert.equal(new Set(seen).size, 251);
            assert.equal(seen[0], newest);
            assert.equal(seen[250], id(0));
            const page = await conn.messageList('#node-paging', {limit: 40});
            assert.ok(page.more);
            assert.equal(page.messages.length, 40);
            // Channels by name, three per page (cursor after_name).
            for (let i = 0; i < 7; i++) await conn.channelCreate(`#node-c${i}`);
            const names = [];
            for await (const channel of conn.iterChannels({pageSize: 3})) names.push(channel.name);
            assert.deepEqual(names, [...names].sort());
            assert.equal(names.length, 8);
        });
    },

    async content_stream() {
        // max_frame_bytes 1 MiB: a 3 MiB blob cannot go in one frame, so it
        // is streamed in chunks and read back in ranges.
        await withNode(['--max-frame-bytes=1048576'], {}, async (node, conn) => {
            const blob = crypto.randomBytes(3 * 1024 * 1024 + 123);
            const digest = crypto.createHash('sha256').update(blob).digest();
            const limited = node.connect({maxFrameBytes: 1048576});
            try {
                assert.throws(() => limited.send('content_put', {data: blob}), /max_frame_bytes/);
                const stored = await limited.contentPut(blob, {chunkSize: 512 * 1024,
                                                               expectedHash: digest});
                assert.ok(digest.equals(stored.hash));
                assert.equal(stored.size, blob.length);
            } finally {
                limited.close();
            }
            assert.ok(await conn.contentHas(digest.toString('hex')));
            const parts = [];
            for await (const part of conn.contentIter(digest, {chunkSize: 512 * 1024})) parts.push(part);
            assert.equal(parts.length, 7);
            assert.ok(Buffer.concat(parts).equals(blob));
            // From a file stream; then a wrong expected hash: refused, nothing kept.
            const file = path.join(os.tmpdir(), `cairn-node-${process.pid}.bin`);
            fs.writeFileSync(file, crypto.randomBytes(200000));
            try {
                const stored = await conn.contentPutStream(fs.createReadStream(file,
                                                                               {highWaterMark: 65536}));
                assert.equal(stored.size, 200000);
                assert.ok((await conn.contentGet(stored.hash)).equals(fs.readFileSync(file)));
            } finally {
                fs.rmSync(file, {force: true});
            }
            const other = crypto.randomBytes(150000);
            await assert.rejects(conn.contentPut(other, {chunkSize: 65536, expectedHash: Buffer.alloc(32)}),
                                 CairnError);
            assert.equal(await conn.contentHas(crypto.createHash('sha256').update(other).digest()), false);
            const small = await conn.contentPut('small');
            assert.ok(await conn.contentDelete(small.hash));
            assert.equal(await conn.contentHas(small.hash), false);
        });
    },

    async kv() {
        await withNode([], {}, async (node, conn) => {
            await conn.kvNamespaceCreate('node-ns');
            assert.equal(await conn.kvStore('node-ns', 'a/b', 'one'), true);
            assert.equal(await conn.kvStore('node-ns', 'a/b', Buffer.from('two')), false);
            assert.equal((await conn.kvRetrieve('node-ns', 'a/b')).toString(), 'two');
            assert.equal(await conn.kvRetrieve('node-ns', 'missing'), null);
            await assert.rejects(conn.kvStore('no-such-ns', 'k', 'v'), (err) => err.statusName === 'NOT_FOUND');
        });
    },

    async busy() {
        // One request in flight per client: a flood meets BUSY.
        await withNode(['--client-in-flight-max=1'], {}, async (node, conn) => {
            const flood = (prefix, count) => Array.from({length: count}, (_, i) =>
                ['config_set', {key: `${prefix}.${i}`, value: Buffer.from('v')}]);
            const results = await conn.pipeline(flood('busy', 300), {window: 300, errors: 'return'});
            const busy = results.filter((r) => r instanceof CairnError);
            assert.ok(busy.length > 0 && busy.length < 300, `${busy.length} BUSY of 300`);
            for (const err of busy) {
                assert.equal(err.statusName, 'BUSY');
                assert.match(err.error, /read your answers/);
            }
            // With retries (backoff 10 ms doubling to 1 s) every one lands.
            const retried = await conn.pipeline(flood('retried', 300), {window: 300, busyRetries: 50});
            assert.equal(retried.length, 300);
            assert.ok(conn.busyRetried > 0);
            assert.equal(await conn.configGet('retried.299', null) !== null, true);
        });
    },

    async curve() {
        const node = await Node.start([], {curve: true});
        const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cairn-node-keys-'));
        const open = [];
        const connect = (options) => {
            const conn = node.connect(options);
            open.push(conn);
            return conn;
        };
        try {
            const conn = connect();
            assert.equal((await conn.ping('curve')).payload.toString(), 'curve');
            assert.ok((await conn.info()).api_version >= 1);
            // A key file of `cairn keygen`, allowed: in, from the file's path.
            const cliKey = path.join(tmp, 'cli.key');
            const printed = execFileSync(CAIRN_CLI, ['keygen', cliKey], {encoding: 'utf8'}).trim();
            assert.equal(keys.load(cliKey).publicKey, printed);
            node.allow(printed);
            assert.ok(await connect({clientKey: cliKey, serverKey: node.serverKey}).ping());
            // The server key as 64 hex digits works as well.
            const hex = z85decode(node.serverKey).toString('hex');
            assert.ok(await connect({serverKey: hex, clientKey: node.clientKey}).ping());
            // A key of our own saved (0600, never overwritten) and loaded:
            // not on the allow-list, so no answer at all.
            const mine = path.join(tmp, 'mine.key');
            keys.save(keys.generate(), mine);
            assert.equal(fs.statSync(mine).mode & 0o777, 0o600);
            assert.throws(() => keys.save(keys.generate(), mine), /EEXIST/);
            for (const options of [{clientKey: mine, serverKey: node.serverKey},
                                   {clientKey: node.clientKey, serverKey: keys.generate().publicKey},
                                   {serverKey: null, clientKey: null}]) {
                await assert.rejects(connect({timeout: 500, ...options}).ping(), CairnTimeout);
            }
        } finally {
            for (const conn of open) conn.close();
            fs.rmSync(tmp, {recursive: true, force: true});
            await node.stop();
        }
    },

    async example() {
        await withNode([], {}, async (node) => {
            const out = execFileSync(process.execPath,
                                     [path.join(__dirname, '..', 'examples', 'demo.js'),
                                      '--endpoint', node.endpoint], {encoding: 'utf8', timeout: 60000});
            assert.match(out, new RegExp(`wire API ${wireApiVersion()}`));
            assert.match(out, /500 config sets pipelined/);
            assert.match(out, /25 messages read in pages of 10/);
            assert.match(out, /read back equal/);
            assert.match(out, /kv: hello from node/);
        });
    },
};

// Z85 (ZeroMQ RFC 32) to bytes, for the hex form of a key.
function z85decode(text) {
    const alphabet = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#';
    const out = Buffer.alloc(text.length / 5 * 4);
    for (let i = 0; i < text.length; i += 5) {
        let value = 0;
        for (let j = 0; j < 5; j++) value = value * 85 + alphabet.indexOf(text[i + j]);
        out.writeUInt32BE(value, i / 5 * 4);
    }
    return out;
}

async function main() {
    const wanted = process.argv.slice(2);
    const unknown = wanted.filter((name) => !NAMES.includes(name));
    if (unknown.length) {
        console.error(`unknown test ${unknown.join(' ')}; --list names them`);
        return 2;
    }
    let failed = 0;
    for (const name of wanted.length ? wanted : NAMES) {
        const started = Date.now();
        try {
            await tests[name]();
            console.log(`ok ${name} (${Date.now() - started} ms)`);
        } catch (err) {
            failed++;
            console.log(`FAIL ${name}: ${err.stack}`);
        }
    }
    return failed ? 1 : 0;
}

main().then((status) => process.exit(status), (err) => {
    console.error(err);
    process.exit(1);
});
